import type { Command } from 'commander';
import { systemClock } from '../lib/core/clock.ts';
import { parseDurationMs } from '../lib/core/config.ts';
import { purgeRuns } from '../lib/ops/retention.ts';
import type { RunPurgeSummary } from '../lib/store/run-purge.ts';
import { withPipelineCommand as withPipeline } from '../app/pipeline.ts';
import { EXIT } from './exit-codes.ts';

/**
 * `runs purge [--older-than 30d] [--dry-run] [--json]`: removes finished runs older than the
 * retention (default RUN_RETENTION) with every key of theirs — entries, people's names, sync
 * counters, index member, dead letters — by hand; the janitor in every worker does the same each
 * JANITOR_EVERY. A live run (intake open or entries pending) is never touched; a run with dead
 * letters is kept until they expire (DLQ_RETENTION).
 */
export function registerRunsPurgeCommand(runs: Command): void {
  runs
    .command('purge')
    .description('Remove finished runs older than the retention, with their entries and names')
    .option('--older-than <duration>', 'finished longer ago than this (e.g. 30d, 12h; default RUN_RETENTION)')
    .option('--dry-run', 'say what would be removed, remove nothing')
    .option('--json', 'machine-readable output')
    .action(async (flags: { olderThan?: string; dryRun?: boolean; json?: boolean }) => {
      const olderThanMs = flags.olderThan === undefined ? undefined : parseDurationMs(flags.olderThan);
      if (flags.olderThan !== undefined && olderThanMs === undefined) {
        console.error('error: --older-than expects a duration such as 30d, 12h or 90m');
        process.exitCode = EXIT.usage;
        return;
      }
      await withPipeline(async (pipeline) => {
        const { retention } = pipeline.config;
        const summary = await purgeRuns(
          { redis: pipeline.redis, stores: pipeline.stores, clock: systemClock },
          {
            olderThanMs: olderThanMs ?? retention.runMs,
            deadLetterRetentionMs: retention.deadLetterMs,
            dryRun: flags.dryRun === true,
          },
        );
        if (!summary.dryRun && summary.runs > 0) {
          await pipeline.audit.record({
            actor: 'cli:runs-purge',
            action: 'retention.purge',
            targetType: 'retention',
            targetId: summary.runIds.join(',').slice(0, 2000),
            after: { runs: summary.runs, entries: summary.entries, keys: summary.keys },
          });
        }
        console.log(flags.json ? JSON.stringify(summary, null, 2) : describePurge(summary));
        return EXIT.ok;
      });
    });
}

const plural = (n: number, one: string, many = `${one}s`) =>
  `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

function megabytes(bytes: number): string {
  return bytes >= 1_048_576 ? `${(bytes / 1_048_576).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} KB`;
}

/** The human summary: what went (or would go), and what was kept and why. */
function describePurge(s: RunPurgeSummary): string {
  const verb = s.dryRun ? 'would remove' : 'removed';
  const lines = [
    s.runs === 0
      ? `no run to remove${s.dryRun ? ' (dry run)' : ''}`
      : `${verb} ${plural(s.runs, 'run')} (${plural(s.entries, 'entry', 'entries')}, ${plural(s.keys, 'key')}, ${megabytes(s.bytes)}, ${plural(s.deadLetters, 'dead letter')})`,
  ];
  if (s.keptLive > 0) lines.push(`kept ${plural(s.keptLive, 'live run')} (intake open or entries pending)`);
  if (s.keptForDeadLetters > 0) {
    lines.push(
      `kept ${plural(s.keptForDeadLetters, 'run')} whose dead letters are still replayable (DLQ_RETENTION)`,
    );
  }
  if (s.dryRun && s.runs > 0) lines.push(...s.runIds.map((id) => `  ${id}`));
  return lines.join('\n');
}
