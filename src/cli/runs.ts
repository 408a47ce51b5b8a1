import { Readable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import type { Command } from 'commander';
import { EXIT } from './exit-codes.ts';
import { withPipelineCommand as withPipeline } from '../app/pipeline.ts';
import type { RunRecord } from '../lib/store/runs.ts';
import { terminalSafe } from '../lib/core/terminal-text.ts';
import { formatLive, liveSnapshot } from '../lib/ops/run-live.ts';
import { type Column, formatTable } from './table.ts';
import { buildRunView, formatRunView, runViewJson } from './run-summary.ts';
import { describePause, pauseState } from '../processors/services/pipeline-pause.ts';
import { registerRunsCancelCommand } from './run-control.ts';
import { registerRunsPurgeCommand } from './runs-purge.ts';
import { registerRunsReportCommand } from './runs-report.ts';

/** `running`, `cancelling` (in-flight steps finishing), `cancelled` or `finished`. */
function runState(r: RunRecord): string {
  if (r.cancelledAt !== undefined) return r.finishedAt ? 'cancelled' : 'cancelling';
  return r.finishedAt ? 'finished' : 'running';
}

const iso = (ms: number | undefined) => (ms === undefined ? '—' : new Date(ms).toISOString());

/** `runs list`: a header row, then one run a line. */
const RUN_COLUMNS: Column<RunRecord>[] = [
  { header: 'RUN', cell: (r) => r.id },
  { header: 'STATE', cell: (r) => runState(r) },
  { header: 'CREATED', cell: (r) => iso(r.createdAt) },
  { header: 'ENTRIES', cell: (r) => r.total },
  { header: 'OK', cell: (r) => (r.counts.provisioned ?? 0) + (r.counts.already_provisioned ?? 0) },
  { header: 'FAILED', cell: (r) => r.dead + (r.counts.invalid ?? 0) },
  { header: 'SOURCE', cell: (r) => terminalSafe(r.source) },
];

/** `runs list` and `runs show ID|latest [--json]`. */
export function registerRunsCommand(program: Command): void {
  const runs = program.command('runs').description('Inspect import/sync runs');
  runs
    .command('list')
    .description('Recent runs, newest first')
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'machine-readable output')
    .action(async (options: { limit: string; json?: boolean }) => {
      await withPipeline(async (pipeline) => {
        const list = await pipeline.runs.list(Math.max(1, Number(options.limit) || 20));
        if (options.json) {
          console.log(JSON.stringify(list, null, 2));
          return EXIT.ok;
        }
        if (list.length === 0) console.log('no runs yet');
        else for (const row of formatTable(RUN_COLUMNS, list)) console.log(row);
        return EXIT.ok;
      });
    });
  runs
    .command('show')
    .description('Per-step counts, times and the outcome of every entry')
    .argument('<id>', 'run id, or "latest"')
    .option('--json', 'machine-readable output (every entry)')
    .action(async (id: string, options: { json?: boolean }) => {
      await withPipeline(async (pipeline) => {
        const runId = id === 'latest' ? await pipeline.runs.latestId() : id;
        const view = runId
          ? await buildRunView(pipeline, runId, { entries: options.json ? 'none' : 'problems' })
          : undefined;
        if (!view) {
          console.error(`error: no run ${id}`);
          return EXIT.failure;
        }
        const pause = await pauseState({
          queues: pipeline.queues,
          pipelinePause: pipeline.stores.pipelinePause,
        });
        if (options.json) {
          await pipe(
            Readable.from(runViewJson(view, pipeline.stores.runPages, { pipeline: pause })),
            process.stdout,
            { end: false },
          );
        } else {
          console.log(`${formatRunView(view)}\n\n  ${describePause(pause)}`);
          // On a terminal, the live view's figures too (progress, pace, ETA, DoorFlow rate, failures).
          const live = process.stdout.isTTY
            ? await liveSnapshot(
                {
                  redis: pipeline.redis,
                  keys: pipeline.keys,
                  runs: pipeline.runs,
                  pages: pipeline.stores.runPages,
                  budgetPerSecond: pipeline.config.doorflow.rateLimitPerSec,
                },
                view.run.id,
              )
            : undefined;
          if (live) console.log(`\n${formatLive(live)}`);
        }
        return EXIT.ok;
      });
    });
  registerRunsReportCommand(runs);
  registerRunsPurgeCommand(runs);
  registerRunsCancelCommand(runs);
}
