import { finished } from 'node:stream/promises';
import { plural } from '../lib/core/plural.ts';
import type { Command } from 'commander';
import { type AuditFormat, formatAudit } from '../lib/store/audit-log.ts';
import { parseDurationMs } from '../lib/core/config.ts';
import { createPrivateWriteStream } from '../lib/core/private-file.ts';
import { EXIT } from './exit-codes.ts';
import { rosterRunOf } from './roster-guard.ts';
import { withPipelineCommand as withPipeline } from '../app/pipeline.ts';

/**
 * `audit export [--since WHEN] [--until WHEN] [--run ID] [--format json|csv] [--out FILE]`: the
 * audit log of changes made in DoorFlow, as JSON lines or CSV. WHEN is an ISO-8601 time or a
 * duration back from now (`7d`, `12h`).
 */

/** Parses `2026-01-31`, `2026-01-31T12:00:00Z` or a duration ago (`7d`) into ms since the epoch. */
export function parseWhen(text: string, now = Date.now()): number | undefined {
  const ago = parseDurationMs(text);
  if (ago !== undefined && /[a-z]$/i.test(text.trim())) return now - ago;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** How many recent runs' rosters an export without `--run` refuses to overwrite. */
const RECENT_RUNS = 100;

export function registerAuditCommand(program: Command): void {
  const audit = program.command('audit').description('The audit log of every change made in DoorFlow');
  audit
    .command('export')
    .description('Export audit entries as JSON lines or CSV (never holds codes or tokens)')
    .option('--since <when>', 'ISO-8601 time or a duration ago (e.g. 7d)')
    .option('--until <when>', 'ISO-8601 time or a duration ago')
    .option('--run <id>', 'only changes made by this run')
    .option('--format <format>', 'json (JSON lines) or csv', 'json')
    .option('--out <file>', 'write to this file instead of stdout')
    .action(
      async (options: { since?: string; until?: string; run?: string; format: string; out?: string }) => {
        const since = options.since === undefined ? undefined : parseWhen(options.since);
        const until = options.until === undefined ? undefined : parseWhen(options.until);
        if ((options.since && since === undefined) || (options.until && until === undefined)) {
          console.error('error: --since/--until expect an ISO-8601 time or a duration such as 7d');
          process.exitCode = EXIT.usage;
          return;
        }
        if (options.format !== 'json' && options.format !== 'csv') {
          console.error('error: --format expects json or csv');
          process.exitCode = EXIT.usage;
          return;
        }
        const format: AuditFormat = options.format;
        await withPipeline(async (pipeline) => {
          if (options.out) {
            // The export of a run (or of recent ones) must not land on a roster they read.
            const chosen = options.run ? await pipeline.runs.get(options.run) : undefined;
            const runs = chosen ? [chosen] : await pipeline.runs.list(RECENT_RUNS);
            const roster = rosterRunOf(options.out, runs);
            if (roster) {
              console.error(
                `error: --out ${options.out} is the roster run ${roster.id} read; choose another file`,
              );
              return EXIT.usage;
            }
          }
          const entries = pipeline.audit.read({
            ...(since !== undefined ? { sinceMs: since } : {}),
            ...(until !== undefined ? { untilMs: until } : {}),
            ...(options.run ? { runId: options.run } : {}),
          });
          const out: NodeJS.WritableStream = options.out
            ? createPrivateWriteStream(options.out)
            : process.stdout;
          let count = 0;
          for await (const line of formatAudit(entries, format)) {
            count++;
            if (!out.write(line)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
          }
          if (options.out) {
            out.end();
            await finished(out);
            console.error(
              `wrote ${plural(format === 'csv' ? count - 1 : count, 'entry', 'entries')} to ${options.out}`,
            );
          }
          return EXIT.ok;
        });
      },
    );
}
