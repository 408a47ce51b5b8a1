import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import { buildRunReport, formatReport, type ReportFormat } from '../lib/ops/run-report.ts';
import { createPrivateWriteStream } from '../lib/core/private-file.ts';
import { EXIT } from './exit-codes.ts';
import { rosterRunOf } from './roster-guard.ts';
import { withPipelineCommand as withPipeline } from '../app/pipeline.ts';

/**
 * `runs report ID|latest [--format csv|json] [--out FILE]`: one line per roster entry (key, name,
 * person id, credential id, status, step, delivery channel and time, error code) — the hand-back
 * after an onboarding event. Holds no invitation code or token. The file is created owner-only:
 * it lists people.
 */
export function registerRunsReportCommand(runs: Command): void {
  runs
    .command('report')
    .description('One line per roster entry: ids, status, delivery channel and time, error code (no secrets)')
    .argument('<id>', 'run id, or "latest"')
    .option('--format <format>', 'csv or json', 'csv')
    .option('--out <file>', 'write to this file instead of stdout')
    .action(async (id: string, options: { format: string; out?: string }) => {
      if (options.format !== 'csv' && options.format !== 'json') {
        console.error('error: --format expects csv or json');
        process.exitCode = EXIT.usage;
        return;
      }
      const format: ReportFormat = options.format;
      await withPipeline(async (pipeline) => {
        const runId = id === 'latest' ? await pipeline.runs.latestId() : id;
        const rows = runId
          ? await buildRunReport(
              {
                deliveries: pipeline.stores.deliveries,
                runs: pipeline.runs,
                deadLetters: pipeline.deadLetters,
              },
              runId,
            )
          : undefined;
        if (!rows) {
          console.error(`error: no run ${id}`);
          return EXIT.failure;
        }
        const run = runId ? await pipeline.runs.get(runId) : undefined;
        if (options.out && run && rosterRunOf(options.out, [run])) {
          console.error(`error: --out ${options.out} is the roster run ${run.id} read; choose another file`);
          return EXIT.usage;
        }
        const text = formatReport(rows, format);
        if (options.out) {
          const out = createPrivateWriteStream(options.out);
          out.end(text);
          await finished(out);
          console.error(`wrote ${rows.length} entries to ${options.out}`);
        } else {
          process.stdout.write(text);
        }
        return EXIT.ok;
      });
    });
}
