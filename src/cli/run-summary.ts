import { PIPELINE_QUEUES } from '../lib/jobs/pipeline-queues.ts';
import type { Queues } from '../lib/jobs/registry.ts';
import type { PagedEntry, RunPages } from '../lib/store/run-pages.ts';
import {
  type EntryDetail,
  entryOutcome,
  type RunRecord,
  type RunStore,
  runSucceeded,
} from '../lib/store/runs.ts';
import { terminalSafe } from '../lib/core/terminal-text.ts';

/** Per-step and per-outcome views of a run for `runs show`, `import --wait` and `demo`. */

export interface StepCounts {
  step: string;
  waiting: number;
  active: number;
  done: number;
  /** Failed attempts that were retried. */
  failed: number;
  dead: number;
}

export interface RunView {
  run: RunRecord;
  succeeded: boolean;
  steps: StepCounts[];
  outcomes: Record<string, number>;
  entries: {
    key: string;
    line?: number;
    outcome: string;
    personId?: number;
    credentialId?: string;
    message?: string;
  }[];
}

/** Active jobs of this run per queue (a bounded read: at most concurrency × workers jobs). */
async function activeByStep(queues: Queues, runId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const step of PIPELINE_QUEUES) {
    const jobs = await queues.get(step).getActive(0, 999);
    out[step] = jobs.filter((j) => (j?.data as { runId?: string } | undefined)?.runId === runId).length;
  }
  return out;
}

/** What a view carries of the entries: every one, the first problems (failed, then pending), or none. */
export type ViewEntries = 'all' | 'problems' | 'none';

/** Problem entries a `problems` view reads at most (`runs show` prints 20 of them). */
const PROBLEM_LIMIT = 100;

/** Entries per outcome from the run's counters: no entry is read, whatever the run's size. */
function outcomesOf(run: RunRecord): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [status, n] of Object.entries(run.counts)) {
    if (n <= 0 || status === 'invalid' || status.startsWith('dead:')) continue;
    const outcome = entryOutcome(status, {});
    out[outcome] = (out[outcome] ?? 0) + n;
  }
  for (const [code, n] of Object.entries(run.failures)) out[`failed: ${code}`] = n;
  return out;
}

export async function buildRunView(
  deps: { runs: RunStore; queues: Queues; stores: { runPages: RunPages } },
  runId: string,
  options: { entries?: ViewEntries; withActive?: boolean } = {},
): Promise<RunView | undefined> {
  await deps.stores.runPages.ready(runId);
  const run = await deps.runs.get(runId);
  if (!run) return undefined;
  const active = options.withActive === false ? {} : await activeByStep(deps.queues, runId);
  const steps: StepCounts[] = PIPELINE_QUEUES.map((step) => {
    const pending = run.counts[step] ?? 0;
    const act = Math.min(pending, active[step] ?? 0);
    return {
      step,
      waiting: pending - act,
      active: act,
      done: run.done[step] ?? 0,
      failed: run.retries[step] ?? 0,
      dead: run.counts[`dead:${step}`] ?? 0,
    };
  }).filter((s) => !s.step.startsWith('delivery-') || s.waiting + s.active + s.done + s.failed + s.dead > 0);
  const entries: RunView['entries'] = [];
  const pages = deps.stores.runPages;
  const which = options.entries ?? 'all';
  if (which === 'all') {
    for await (const batch of pages.scan(runId)) entries.push(...batch.map(toRow));
  } else if (which === 'problems') {
    for (const group of ['failed', 'pending']) {
      const page = await pages.page(runId, group, { limit: PROBLEM_LIMIT - entries.length });
      entries.push(...page.entries.map(toRow));
      if (entries.length >= PROBLEM_LIMIT) break;
    }
  }
  return { run, succeeded: runSucceeded(run), steps, outcomes: outcomesOf(run), entries };
}

function toRow(e: PagedEntry): RunView['entries'][number] {
  return entryRow(e.key, entryOutcome(e.status, e.detail), e.detail);
}

/**
 * `runs show --json` written as it is read: the view without entries, then every entry a batch
 * at a time in roster order, so a million-entry run never sits in memory.
 */
export async function* runViewJson(
  view: RunView,
  pages: RunPages,
  extra: Record<string, unknown> = {},
): AsyncGenerator<string> {
  const { entries: _ignored, ...rest } = view;
  const head = JSON.stringify({ ...rest, ...extra }, null, 2);
  yield `${head.slice(0, head.lastIndexOf('\n}'))},\n  "entries": [`;
  let first = true;
  for await (const batch of pages.scan(view.run.id)) {
    const lines = batch.map((e) => `\n    ${JSON.stringify(toRow(e))}`).join(',');
    yield first ? lines : `,${lines}`;
    first = false;
  }
  yield first ? ']\n}\n' : '\n  ]\n}\n';
}

function entryRow(key: string, outcome: string, d: EntryDetail): RunView['entries'][number] {
  return {
    key,
    outcome,
    ...(d.line !== undefined ? { line: d.line } : {}),
    ...(d.personId !== undefined ? { personId: d.personId } : {}),
    ...(d.credentialId !== undefined ? { credentialId: d.credentialId } : {}),
    ...(d.message !== undefined && !outcome.startsWith('provisioned') ? { message: d.message } : {}),
  };
}

const iso = (ms: number | undefined) => (ms === undefined ? '—' : new Date(ms).toISOString());

/** Plain-text summary: header, step table, outcome counts, then the entries that did not succeed. */
export function formatRunView(view: RunView, options: { maxProblems?: number } = {}): string {
  const { run } = view;
  const lines: string[] = [];
  const state =
    run.cancelledAt !== undefined
      ? run.finishedAt
        ? 'cancelled'
        : 'cancelling: running steps finish, then their entries end cancelled'
      : run.finishedAt
        ? view.succeeded
          ? 'finished: all provisioned'
          : 'finished with failures'
        : 'in progress';
  lines.push(`Run ${run.id} (${run.source}, delivery ${run.delivery}) — ${state}`);
  lines.push(`  started ${iso(run.createdAt)}   finished ${iso(run.finishedAt)}   entries ${run.total}`);
  lines.push('');
  lines.push(
    `  ${'step'.padEnd(18)}${'waiting'.padStart(9)}${'active'.padStart(8)}${'done'.padStart(8)}${'failed'.padStart(8)}${'dead'.padStart(7)}`,
  );
  for (const s of view.steps) {
    lines.push(
      `  ${s.step.padEnd(18)}${String(s.waiting).padStart(9)}${String(s.active).padStart(8)}${String(s.done).padStart(8)}${String(s.failed).padStart(8)}${String(s.dead).padStart(7)}`,
    );
  }
  lines.push('  (failed = attempts that failed and were retried; dead = gave up, see `dlq list`)');
  lines.push('');
  for (const [outcome, n] of Object.entries(view.outcomes).sort((a, b) => b[1] - a[1])) {
    lines.push(`  ${outcome.padEnd(32)}${String(n).padStart(7)}`);
  }
  const problems = view.entries.filter(
    (e) => !e.outcome.endsWith('provisioned') && e.outcome !== 'cancelled',
  );
  const max = options.maxProblems ?? 20;
  if (problems.length > 0) {
    lines.push('');
    lines.push('  Entries not provisioned:');
    for (const e of problems.slice(0, max)) {
      const where = e.line !== undefined ? `line ${e.line} ` : '';
      lines.push(
        `    ${where}${terminalSafe(e.key)}: ${e.outcome}${e.message ? ` (${terminalSafe(e.message)})` : ''}`,
      );
    }
    // A `problems` view holds the first ones only: the counters say how many there are.
    const ok = (run.counts.provisioned ?? 0) + (run.counts.already_provisioned ?? 0);
    const all = Math.max(problems.length, run.total - ok);
    if (all > max) lines.push(`    … and ${all - max} more (runs show ${run.id} --json)`);
  }
  return lines.join('\n');
}
