import type { Command } from 'commander';
import { parseDurationMs } from '../lib/core/config.ts';
import type { DeadLetter, DeadLetterFilter } from '../lib/store/dead-letters.ts';
import { replayDeadLetters } from '../processors/services/replay.ts';
import { EXIT } from './exit-codes.ts';
import { withPipelineCommand as withPipeline } from '../app/pipeline.ts';
import { terminalSafe } from '../lib/core/terminal-text.ts';

const iso = (ms: number) => new Date(ms).toISOString();

function line(d: DeadLetter): string {
  const status = d.httpStatus ? ` HTTP ${d.httpStatus}` : '';
  return `${d.id}  ${d.queue.padEnd(16)} ${d.code.padEnd(20)} ${d.runId}  ${terminalSafe(d.key)}  attempts ${d.attempts}${status}  last ${iso(d.lastFailedAt)}  ${terminalSafe(d.message)}`;
}

interface FilterFlags {
  run?: string;
  code?: string;
  step?: string;
}

function filterOf(flags: FilterFlags): DeadLetterFilter {
  return {
    ...(flags.run ? { runId: flags.run } : {}),
    ...(flags.code ? { code: flags.code } : {}),
    ...(flags.step ? { step: flags.step } : {}),
  };
}

/** `dlq list|show|replay|purge`. Dead letters never hold an invitation code or a token. */
export function registerDlqCommand(program: Command): void {
  const dlq = program.command('dlq').description('Dead-lettered entries: list, show, replay, purge');
  dlq
    .command('list')
    .option('--run <id>', 'only this run')
    .option('--code <code>', 'only this error code (e.g. licence_limit)')
    .option('--step <step>', 'only this step (person, credential, invitation, delivery-webhook, delivery)')
    .option('--json', 'machine-readable output')
    .action(async (flags: FilterFlags & { json?: boolean }) => {
      await withPipeline(async (p) => {
        const list = await p.deadLetters.list(filterOf(flags));
        if (flags.json) console.log(JSON.stringify(list, null, 2));
        else if (list.length === 0) console.log('no dead letters');
        else for (const d of list) console.log(line(d));
        return EXIT.ok;
      });
    });
  dlq
    .command('show')
    .argument('<id>')
    .action(async (id: string) => {
      await withPipeline(async (p) => {
        const record = await p.deadLetters.get(id);
        if (!record) {
          console.error(`error: no dead letter ${id}`);
          return EXIT.failure;
        }
        console.log(JSON.stringify(record, null, 2));
        return EXIT.ok;
      });
    });
  dlq
    .command('replay')
    .description(
      'Put entries back at their failed step with fresh attempts (idempotent: nothing is created twice)',
    )
    .argument('[ids...]', 'dead-letter ids')
    .option('--all', 'every dead letter')
    .option('--run <id>', 'every dead letter of this run')
    .option('--code <code>', 'every dead letter with this error code')
    .option('--step <step>', 'narrow to one step')
    .option('--dry-run', 'show what would be replayed')
    .action(async (ids: string[], flags: FilterFlags & { all?: boolean; dryRun?: boolean }) => {
      if (ids.length === 0 && !flags.all && !flags.run && !flags.code) {
        console.error('error: give dead-letter ids, or --all, --run ID or --code CODE');
        process.exitCode = EXIT.usage;
        return;
      }
      await withPipeline(async (p) => {
        const selected =
          ids.length > 0
            ? (await Promise.all(ids.map((id) => p.deadLetters.get(id)))).filter(
                (d): d is DeadLetter => d !== undefined,
              )
            : await p.deadLetters.list(filterOf(flags));
        const missing = ids.filter((id) => !selected.some((d) => d.id === id));
        const { replayed, skipped } = await replayDeadLetters(
          selected,
          { deadLetters: p.deadLetters, queues: p.queues, runs: p.runs },
          { dryRun: Boolean(flags.dryRun) },
        );
        const verb = flags.dryRun ? 'would replay' : 'replayed';
        for (const d of replayed) console.log(`${verb} ${d.id} (${d.runId} ${d.key} at ${d.queue})`);
        for (const s of skipped) console.log(`skipped ${s.id}: ${s.reason}`);
        for (const id of missing) console.log(`not found ${id}`);
        console.log(`${verb} ${replayed.length}, skipped ${skipped.length + missing.length}`);
        return missing.length > 0 ? EXIT.failure : EXIT.ok;
      });
    });
  dlq
    .command('purge')
    .description('Delete dead letters')
    .option('--run <id>', 'only this run')
    .option('--older-than <duration>', 'only those whose last failure is older (e.g. 30d)')
    .option('--all', 'every dead letter')
    .action(async (flags: { run?: string; olderThan?: string; all?: boolean }) => {
      if (!flags.run && !flags.olderThan && !flags.all) {
        console.error('error: give --run ID, --older-than DURATION or --all');
        process.exitCode = EXIT.usage;
        return;
      }
      const olderThanMs = flags.olderThan ? parseDurationMs(flags.olderThan) : undefined;
      if (flags.olderThan && olderThanMs === undefined) {
        console.error('error: --older-than expects a duration such as 30d, 12h or 90m');
        process.exitCode = EXIT.usage;
        return;
      }
      await withPipeline(async (p) => {
        const removed = await p.deadLetters.purge({
          ...(flags.run ? { runId: flags.run } : {}),
          ...(olderThanMs !== undefined ? { olderThanMs } : {}),
        });
        console.log(`purged ${removed} dead letter(s)`);
        return EXIT.ok;
      });
    });
}
