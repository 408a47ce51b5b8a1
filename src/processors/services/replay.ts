import { parsePayload, type QueueName, type Queues, stepJobId } from '../../lib/jobs/registry.ts';
import type { DeadLetter, DeadLetterStore } from '../../lib/store/dead-letters.ts';
import type { AuditLog } from '../../lib/store/audit-log.ts';
import type { EntryStatus, RunStore } from '../../lib/store/runs.ts';

/**
 * Dead-letter replay (`dlq replay`, the admin page): puts records back at their failed step with
 * fresh attempts and a new job id. It lives beside the processors because it adds jobs; the
 * dead-letter store only keeps the records.
 */

export interface ReplayDeps {
  deadLetters: DeadLetterStore;
  queues: Queues;
  runs: RunStore;
}

export interface ReplayResult {
  replayed: DeadLetter[];
  skipped: { id: string; reason: string }[];
}

/** Where a replay restarts: delivery failures go back to the invitation step to re-read the code. */
export function replayQueueFor(queue: QueueName): QueueName {
  return queue.startsWith('delivery-') ? 'invitation' : queue;
}

/**
 * A record is replayed once: it leaves the live index, so a second replay finds nothing.
 * Processors are idempotent by lookup, so replaying something that meanwhile succeeded creates
 * nothing.
 */
export async function replayDeadLetters(
  records: DeadLetter[],
  deps: ReplayDeps,
  options: { dryRun?: boolean } = {},
): Promise<ReplayResult> {
  const replayed: DeadLetter[] = [];
  const skipped: { id: string; reason: string }[] = [];
  for (const record of records) {
    if (record.state !== 'dead') {
      skipped.push({ id: record.id, reason: 'already replayed' });
      continue;
    }
    if (options.dryRun) {
      replayed.push(record);
      continue;
    }
    // Claim the record first: two concurrent replays cannot both re-add it.
    if (!(await deps.deadLetters.claim(record.id))) {
      skipped.push({ id: record.id, reason: 'already replayed' });
      continue;
    }
    const queue = replayQueueFor(record.queue);
    const gen = Number(record.payload.gen ?? 0) + 1;
    const payload: Record<string, unknown> = { ...record.payload, gen };
    delete payload.waitStartedAt;
    delete payload.polls;
    // The run's people index may be stale by now: a replayed person step looks DoorFlow up.
    if (queue === 'person') payload.indexed = false;
    await deps.runs.reopen(record.runId, record.key, queue as EntryStatus);
    // The stored payload is untyped: it goes back only if it is still a valid payload of the step.
    const data = parsePayload(queue, payload);
    // Mark the record replayed before the job exists: a replayed job that succeeds at once clears
    // the record, and a mark written after that would bring it back as a stale leftover.
    const updated: DeadLetter = { ...record, replays: record.replays + 1, state: 'replayed', payload };
    await deps.deadLetters.update(updated);
    try {
      await deps.queues.add(queue, data, { jobId: stepJobId(record.runId, record.key, gen) });
    } catch (err) {
      await deps.deadLetters.restore(record);
      throw err;
    }
    replayed.push(updated);
  }
  return { replayed, skipped };
}

/**
 * Puts the replays an operator asked for in the audit log (`dead_letter.replay`), naming who:
 * the CLI's OS user and host, or the `/admin` session.
 */
export async function auditReplays(
  audit: AuditLog | undefined,
  replayed: readonly DeadLetter[],
  who: { actor: string; operator: string },
): Promise<void> {
  for (const d of replayed) {
    await audit?.record({
      ...who,
      action: 'dead_letter.replay',
      targetType: 'dead_letter',
      targetId: d.id,
      runId: d.runId,
      key: d.key,
      after: { step: d.queue, code: d.code },
    });
  }
}
