import type { Command } from 'commander';
import { type Pipeline, withPipelineCommand } from '../app/pipeline.ts';
import { terminalSafe } from '../lib/core/terminal-text.ts';
import type { PlanSummary } from '../lib/store/sync-plans.ts';
import { syncDepsOf } from '../processors/sync.ts';
import { type PlanActions, planActions } from '../producers/sync/plan-actions.ts';
import { EXIT } from './exit-codes.ts';
import { cliOperator } from './operator.ts';
import { type Column, formatTable } from './table.ts';

/**
 * `sync plans [--json]`, `sync approve ID [--json]`, `sync reject ID [--json]`: the plans a safety
 * check quarantined, applying exactly one (refused with the numbers when DoorFlow moved since), or
 * dropping it. Both decisions are audited with the OS user and host who made them.
 */

const iso = (ms: number) => new Date(ms).toISOString();

const PLAN_COLUMNS: Column<PlanSummary>[] = [
  { header: 'PLAN', cell: (p) => p.id },
  { header: 'QUARANTINED', cell: (p) => iso(p.quarantinedAt) },
  { header: 'CREATE', cell: (p) => p.counts.create },
  { header: 'UPDATE', cell: (p) => p.counts.update },
  { header: 'OFFBOARD', cell: (p) => p.counts.offboard },
  { header: 'HEADROOM', cell: (p) => (p.headroom === undefined ? '—' : String(p.headroom)) },
  { header: 'SOURCE', cell: (p) => terminalSafe(p.sourceName) },
];

/** Both options objects: `--json` may be parsed by `sync` itself. */
function jsonFlag(command: Command): boolean {
  return (command.optsWithGlobals() as { json?: boolean }).json === true;
}

const decider = () => ({ actor: 'cli:sync', operator: cliOperator() });

/** The plan actions over this command's pipeline. */
const actionsOf = (pipeline: Pipeline): PlanActions => planActions(syncDepsOf(pipeline.processorDeps()));

const notFound = (id: string) => {
  console.error(`error: no quarantined plan ${id} (sync plans lists them)`);
  return EXIT.failure;
};

export function registerSyncPlanCommands(sync: Command): void {
  sync
    .command('plans')
    .description('Plans a safety check quarantined, waiting for sync approve / sync reject')
    .option('--json', 'machine-readable output (with each plan’s diff)')
    .action(async (_options: unknown, command: Command) => {
      await withPipelineCommand(async (pipeline) => {
        const actions = actionsOf(pipeline);
        const plans = await actions.list();
        if (jsonFlag(command)) {
          const opened = await Promise.all(plans.map((p) => actions.open(p.id)));
          const out = opened.flatMap((o) => (o ? [{ ...o.summary, plan: o.plan }] : []));
          console.log(JSON.stringify(out, null, 2));
          return EXIT.ok;
        }
        if (plans.length === 0) console.log('no quarantined plans');
        else {
          for (const row of formatTable(PLAN_COLUMNS, plans)) console.log(row);
          for (const p of plans) for (const r of p.refusals) console.log(`${p.id}: ${terminalSafe(r)}`);
        }
        return EXIT.ok;
      });
    });

  decisionCommand(
    sync,
    'approve',
    'Apply exactly the quarantined plan ID (refused, with the numbers, if DoorFlow moved since)',
    async (actions, id) => {
      const result = await actions.approve(id, decider());
      if (result.status === 'not_found') return { json: result, code: undefined, lines: [] };
      if (result.status === 'drifted')
        return { json: result, code: EXIT.refused, lines: [`REFUSED: ${result.reason}`] };
      const c = result.summary.counts;
      const started = `sync run ${result.runId} started (create ${c.create}, update ${c.update}, offboard ${c.offboard})`;
      return { json: result, code: EXIT.ok, lines: [`plan ${id} approved: ${started}`] };
    },
  );
  decisionCommand(
    sync,
    'reject',
    'Drop the quarantined plan ID; DoorFlow is not touched',
    async (actions, id) => {
      const summary = await actions.reject(id, decider());
      if (!summary) return { json: { status: 'not_found' }, code: undefined, lines: [] };
      return {
        json: { status: 'rejected', summary },
        code: EXIT.ok,
        lines: [`plan ${id} rejected: nothing was changed`],
      };
    },
  );
}

/** What a decision printed: its JSON, its lines, its exit code (undefined: no such plan). */
interface Decision {
  json: unknown;
  code: number | undefined;
  lines: string[];
}

/** `sync approve ID` / `sync reject ID`: one plan id, `--json` or lines, exit 1 for an unknown plan. */
function decisionCommand(
  sync: Command,
  verb: 'approve' | 'reject',
  description: string,
  decide: (actions: PlanActions, id: string) => Promise<Decision>,
): void {
  sync
    .command(verb)
    .description(description)
    .argument('<id>', 'plan id (sync plans)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, _options: unknown, command: Command) => {
      await withPipelineCommand(async (pipeline) => {
        const decision = await decide(actionsOf(pipeline), id);
        if (jsonFlag(command)) console.log(JSON.stringify(decision.json, null, 2));
        if (decision.code === undefined) return notFound(id);
        if (!jsonFlag(command)) for (const line of decision.lines) console.log(line);
        return decision.code;
      });
    });
}
