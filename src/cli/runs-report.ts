import { Readable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import type { Command } from 'commander';
import { type ReportFormat, reportText, streamRunReport } from '../lib/ops/run-report.ts';
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
      await withPipeline(async (opened) => {
        const runId = id === 'latest' ? await opened.runs.latestId() : id;
        const run = runId ? await opened.runs.get(runId) : undefined;
        const batches = run
          ? await streamRunReport(
              {
                deliveries: opened.stores.deliveries,
                runs: opened.runs,
                pages: opened.stores.runPages,
                deadLetters: opened.deadLetters,
              },
              run.id,
            )
          : undefined;
        if (!run || !batches) {
          console.error(`error: no run ${id}`);
          return EXIT.failure;
        }
        if (options.out && rosterRunOf(options.out, [run])) {
          console.error(`error: --out ${options.out} is the roster run ${run.id} read; choose another file`);
          return EXIT.usage;
        }
        // Streamed a batch at a time with backpressure: a million-entry report never sits in memory.
        let rows = 0;
        const counted = (async function* () {
          for await (const batch of batches) {
            rows += batch.length;
            yield batch;
          }
        })();
        const text = Readable.from(reportText(counted, format));
        if (options.out) {
          await pipe(text, createPrivateWriteStream(options.out));
          console.error(`wrote ${rows} entries to ${options.out}`);
        } else {
          await pipe(text, process.stdout, { end: false });
        }
        return EXIT.ok;
      });
    });
}
