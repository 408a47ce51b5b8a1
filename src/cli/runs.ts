import type { Command } from 'commander';
import { EXIT } from './exit-codes.ts';
import { withPipelineCommand as withPipeline } from '../app/pipeline.ts';
import { buildRunView, formatRunView } from './run-summary.ts';
import { registerRunsPurgeCommand } from './runs-purge.ts';
import { registerRunsReportCommand } from './runs-report.ts';

const iso = (ms: number | undefined) => (ms === undefined ? '—' : new Date(ms).toISOString());

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
        for (const r of list) {
          const ok = (r.counts.provisioned ?? 0) + (r.counts.already_provisioned ?? 0);
          const state = r.finishedAt ? 'finished' : 'running ';
          console.log(
            `${r.id}  ${state}  ${iso(r.createdAt)}  ${String(r.total).padStart(6)} entries  ${String(ok).padStart(6)} ok  ${String(r.dead + (r.counts.invalid ?? 0)).padStart(5)} failed  ${r.source}`,
          );
        }
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
        const view = runId ? await buildRunView(pipeline, runId) : undefined;
        if (!view) {
          console.error(`error: no run ${id}`);
          return EXIT.failure;
        }
        console.log(options.json ? JSON.stringify(view, null, 2) : formatRunView(view));
        return EXIT.ok;
      });
    });
  registerRunsReportCommand(runs);
  registerRunsPurgeCommand(runs);
}
