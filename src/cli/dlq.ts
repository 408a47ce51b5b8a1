import type { Command } from 'commander';
import { parseDurationMs } from '../lib/core/config.ts';
import type { DeadLetter, DeadLetterFilter } from '../lib/store/dead-letters.ts';
import { auditReplays, replayDeadLetters } from '../processors/services/replay.ts';
import { EXIT } from './exit-codes.ts';
import { cliOperator } from './operator.ts';
import { withPipelineCommand as withPipeline } from '../app/pipeline.ts';
import { plural } from '../lib/core/plural.ts';
import { terminalSafe } from '../lib/core/terminal-text.ts';
import { type Column, formatTable } from './table.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/** A dead letter as printed (`--json` too): times as ISO-8601, not epoch milliseconds. */
function printable(d: DeadLetter): Omit<DeadLetter, 'firstFailedAt' | 'lastFailedAt'> & {
  firstFailedAt: string;
  lastFailedAt: string;
} {
  return { ...d, firstFailedAt: iso(d.firstFailedAt), lastFailedAt: iso(d.lastFailedAt) };
}

const LIST_COLUMNS: Column<DeadLetter>[] = [
  { header: 'ID', cell: (d) => d.id },
  { header: 'STEP', cell: (d) => d.queue },
  { header: 'CODE', cell: (d) => d.code },
  { header: 'HTTP', cell: (d) => (d.httpStatus ? String(d.httpStatus) : '—') },
  { header: 'RUN', cell: (d) => d.runId },
  { header: 'ENTRY', cell: (d) => terminalSafe(d.key) },
  { header: 'ATTEMPTS', cell: (d) => d.attempts },
  { header: 'LAST FAILED', cell: (d) => iso(d.lastFailedAt) },
  { header: 'MESSAGE', cell: (d) => terminalSafe(d.message) },
];

/** `dlq show ID` for people: one field a line. */
function describeDeadLetter(d: DeadLetter): string[] {
  const fields: [string, string][] = [
    ['step', d.queue],
    ['code', `${d.code}${d.httpStatus ? ` (HTTP ${d.httpStatus})` : ''}`],
    ['message', terminalSafe(d.message)],
    ['run', d.runId],
    ['entry', terminalSafe(d.key)],
    ['job', terminalSafe(d.jobId)],
    ['attempts', `${d.attempts}, ${plural(d.replays, 'replay')}`],
    ['state', d.state],
    ['first failed', iso(d.firstFailedAt)],
    ['last failed', iso(d.lastFailedAt)],
    ['payload', terminalSafe(JSON.stringify(d.payload))],
  ];
  return [`dead letter ${d.id}`, ...fields.map(([k, v]) => `  ${k.padEnd(12)} ${v}`)];
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
        if (flags.json) console.log(JSON.stringify(list.map(printable), null, 2));
        else if (list.length === 0) console.log('no dead letters');
        else for (const row of formatTable(LIST_COLUMNS, list)) console.log(row);
        return EXIT.ok;
      });
    });
  dlq
    .command('show')
    .description('One dead letter: why it failed, when, and what a replay re-adds (no secrets)')
    .argument('<id>')
    .option('--json', 'machine-readable output')
    .action(async (id: string, flags: { json?: boolean }) => {
      await withPipeline(async (p) => {
        const record = await p.deadLetters.get(id);
        if (!record) {
          console.error(`error: no dead letter ${id}`);
          return EXIT.failure;
        }
        if (flags.json) console.log(JSON.stringify(printable(record), null, 2));
        else for (const row of describeDeadLetter(record)) console.log(row);
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
        if (!flags.dryRun)
          await auditReplays(p.audit, replayed, { actor: 'cli:dlq', operator: cliOperator() });
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
        console.log(`purged ${plural(removed, 'dead letter')}`);
        return EXIT.ok;
      });
    });
}
