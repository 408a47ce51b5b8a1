/**
 * Import boundaries of src/ (README.md, "Development", lists them). Run by `npm run lint` as
 * `depcruise src --config .dependency-cruiser.cjs`. Every rule is an error: a violation fails lint.
 *
 * Type-only imports (`import type`) count like any other import, for cycles too. They vanish at
 * run time, but they still tie two modules' designs together, and both cycles the restructuring
 * issue names (processors/worker.ts ↔ lifecycle/index.ts, lib/delivery/send-code.ts ↔ webhook.ts)
 * close through an `import type`: a rule that skipped them would pass today's code.
 */

/** Files directly in src/processors/ that are plumbing around the steps, not steps. */
const PROCESSOR_SHARED = [
  'worker',
  'context',
  'advance',
  'processor-list',
  // Runs the steps of one batch entry in process (the batch job's seam, like processor-list's table).
  'batch-entry',
  'hand-over-decision',
  'person-match',
];
/** Files in src/processors/lifecycle/ that are shared by the lifecycle steps, not steps. */
const LIFECYCLE_SHARED = ['track', 'schedule', 'index', 'processors'];

/**
 * The one module of another lib room that src/lib/core may import: a leaf of constants
 * (the delivery channel names that config parses). Nothing else.
 */
const CORE_MAY_IMPORT = ['^src/lib/delivery/channel-names\\.ts$'];

/** What the simulator may take from the rest of src: the contract types, and a logger. */
const SIMULATOR_MAY_IMPORT = ['^src/lib/doorflow/types\\.ts$', '^src/lib/core/logger\\.ts$'];

/** The DoorFlow client's internals: only src/lib/doorflow builds DoorFlow requests. */
const DOORFLOW_INTERNALS = ['transport', 'auth', 'budget', 'pagination', 'http-errors', 'resource-url'];

const oneOf = (names) => `(${names.join('|')})`;

/** Steps: files directly in src/processors/ and in src/processors/lifecycle/ (so hooks/ and services/ are not). */
const STEPS = [`^src/processors/[^/]+\\.ts$`, `^src/processors/lifecycle/[^/]+\\.ts$`];
const NOT_STEPS = [
  `^src/processors/${oneOf(PROCESSOR_SHARED)}\\.ts$`,
  `^src/processors/lifecycle/${oneOf(LIFECYCLE_SHARED)}\\.ts$`,
];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Import cycle. Move what both sides need into a lower module (lib/…) so the arrow runs one way.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'lib-not-up',
      severity: 'error',
      comment:
        'src/lib is the bottom floor: it must not import processors, producers, cli, server or app. ' +
        'Pass what lib needs in as a parameter, or move the shared piece down into lib.',
      from: { path: '^src/lib/' },
      to: { path: '^src/(processors|producers|cli|server|app)/' },
    },
    {
      name: 'core-is-base',
      severity: 'error',
      comment:
        'src/lib/core (config, logger, redis, errors…) must not import the other lib rooms ' +
        '(store, jobs, delivery, doorflow, ops, roster). Move the constant into core, or into the one ' +
        'allowed leaf (CORE_MAY_IMPORT in .dependency-cruiser.cjs).',
      from: { path: '^src/lib/core/' },
      to: { path: '^src/lib/(store|jobs|delivery|doorflow|ops|roster)/', pathNot: CORE_MAY_IMPORT },
    },
    {
      name: 'pipeline-not-up',
      severity: 'error',
      comment:
        'processors and producers must not import cli, server or app (the composition root calls them, ' +
        'not the other way round). Take the dependency as a parameter.',
      from: { path: '^src/(processors|producers)/' },
      to: { path: '^src/(cli|server|app)/' },
    },
    {
      name: 'no-step-to-step',
      severity: 'error',
      comment:
        'A step must not import another step: steps talk through their queues. Move the shared code to ' +
        'src/processors/services/ (or lifecycle/track.ts, schedule.ts), or list a plumbing file in ' +
        'PROCESSOR_SHARED / LIFECYCLE_SHARED in .dependency-cruiser.cjs.',
      from: {
        path: STEPS,
        pathNot: NOT_STEPS,
      },
      to: {
        path: STEPS,
        pathNot: NOT_STEPS,
      },
    },
    {
      name: 'doorflow-internals',
      severity: 'error',
      comment:
        'Only src/lib/doorflow builds DoorFlow requests: outside it, use the client (client.ts) and its ' +
        'types (types.ts), never transport, auth, budget, pagination, http-errors or resource-url.',
      from: { path: '^src/', pathNot: '^src/lib/doorflow/' },
      to: { path: `^src/lib/doorflow/${oneOf(DOORFLOW_INTERNALS)}\\.ts$` },
    },
    {
      name: 'simulator-stands-alone',
      severity: 'error',
      comment:
        'The simulator shares nothing with the client but the contract types (src/lib/doorflow/types.ts) ' +
        'and the logger, so a bug in one cannot hide the same bug in the other. Copy what it needs into ' +
        'src/simulator/.',
      from: { path: '^src/simulator/' },
      to: { path: '^src/', pathNot: ['^src/simulator/', ...SIMULATOR_MAY_IMPORT] },
    },
    {
      name: 'simulator-only-from-cli',
      severity: 'error',
      comment:
        'Only src/cli (the simulate and demo commands) starts the simulator; production code must not import it.',
      from: { path: '^src/', pathNot: '^src/(simulator|cli)/' },
      to: { path: '^src/simulator/' },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules'] },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
