import { setMaxListeners } from 'node:events';
import { UnrecoverableError } from 'bullmq';
import type { Logger } from '../lib/core/logger.ts';
import { defineProcessor } from '../lib/jobs/define-processor.ts';
import { type ProvisionPayload, parsePayload, stepJobId } from '../lib/jobs/registry.ts';
import type { EntryDetail } from '../lib/store/runs.ts';
import { provisionEntry } from './batch-entry.ts';
import type { JobContext, ProcessorDeps } from './context.ts';
import type { Failure } from './hooks/dead-letter.ts';
import { auditedDeps } from './hooks/audit.ts';

/**
 * The batch job (queue `provision`): a slice of a run's entries, each provisioned in this process
 * through the step handlers (batch-entry.ts), all at once (the slice is the bound; the fleet
 * budget still gates every DoorFlow call). BullMQ's fetch/lock/finish and the intermediate run
 * moves are paid per batch, not per person and step.
 *
 * A batch may run twice (a stall after a SIGKILL, a lost lock). Its checkpoints are the run's
 * entry statuses, read in one round trip at the start: an entry that settled, moved on to a step
 * queue, or was handed to the `person` queue (its detail names the step) is skipped; the others run
 * again and rely on the idempotency a retried single job relies on (locks, pending marks, lookups
 * before writes, delivery records).
 */

export const provisionProcessor = defineProcessor('provision', handle);

/** How stale a batch's view of its run's cancel mark may be, ms. */
const CANCEL_RECHECK_MS = 250;

interface BatchResult {
  entries: number;
  /** Entries this attempt ran (the rest had settled or left before). */
  ran: number;
}

async function handle(p: ProvisionPayload, deps: ProcessorDeps, ctx: JobContext): Promise<BatchResult> {
  const todo = await unsettled(deps, p);
  const cancelled = cancelCheck(deps, p.runId);
  // Every entry's DoorFlow call in flight listens on the batch's one abort signal.
  if (ctx.signal) setMaxListeners(10 + 4 * todo.length, ctx.signal);
  const results = await Promise.allSettled(
    todo.map((e) =>
      provisionEntry(
        {
          runId: p.runId,
          gen: p.gen,
          key: e.key,
          deps: auditedDeps(deps, { runId: p.runId, key: e.key }, ctx.logger),
          logger: ctx.logger.child({ key: e.key }),
          signal: ctx.signal,
          cancelled,
        },
        { runId: p.runId, gen: p.gen, ...e },
      ),
    ),
  );
  // Only Redis trouble gets here (an entry's own failures are settled per entry): BullMQ retries
  // the batch, and the checkpoints skip what this attempt finished.
  const broken = results.find((r) => r.status === 'rejected');
  if (broken) throw broken.reason;
  return { entries: p.entries.length, ran: todo.length };
}

/** Whether an entry still belongs to its batch: at `person`, and not handed to the `person` queue. */
export function inBatch(state: { status: string | undefined; detail: EntryDetail }): boolean {
  return state.status === 'person' && state.detail.step === undefined;
}

/** The batch's entries still to run, from one read of their run statuses. */
async function unsettled(deps: Pick<ProcessorDeps, 'runs'>, p: ProvisionPayload) {
  const states = await deps.runs.entryStates(
    p.runId,
    p.entries.map((e) => e.key),
  );
  return p.entries.filter((_, i) => {
    const state = states[i];
    return state !== undefined && inBatch(state);
  });
}

/** The run's cancel mark, asked at most every {@link CANCEL_RECHECK_MS}; once seen, it stays. */
function cancelCheck(deps: Pick<ProcessorDeps, 'runCancels'>, runId: string): () => Promise<boolean> {
  let askedAt = Number.NEGATIVE_INFINITY;
  let answer: Promise<boolean> = Promise.resolve(false);
  return async () => {
    const now = Date.now();
    if (now - askedAt >= CANCEL_RECHECK_MS && !(await answer)) {
      askedAt = now;
      answer = deps.runCancels.isCancelled(runId);
    }
    return await answer;
  };
}

/**
 * A batch that failed for good (Redis trouble through every attempt, or stalled too often) has no
 * dead letter of its own: its entries still in the batch go to the `person` queue one by one, where
 * each is retried, dead-lettered and replayed like any step job.
 */
export async function releaseBatch(deps: ProcessorDeps, data: unknown, logger: Logger): Promise<number> {
  const p = parsePayload('provision', data);
  const todo = await unsettled(deps, p);
  await deps.queues.addBulk(
    'person',
    todo.map((e) => ({
      payload: { runId: p.runId, gen: p.gen, ...e },
      opts: { jobId: stepJobId(p.runId, e.key, p.gen) },
    })),
  );
  await Promise.all(todo.map((e) => deps.runs.move(p.runId, e.key, 'person', { step: 'person' })));
  logger.warn(
    { runId: p.runId, entries: todo.length },
    'batch failed for good: its entries go on one by one',
  );
  return todo.length;
}

/** The job boundary's failure side for a batch job: returns what to throw to BullMQ. */
export async function settleBatchFailure(
  deps: ProcessorDeps,
  data: unknown,
  err: unknown,
  failure: Failure,
  logger: Logger,
): Promise<unknown> {
  if (!failure.final) {
    logger.info({ code: failure.code }, 'batch failed; will retry');
    return err;
  }
  try {
    await releaseBatch(deps, data, logger);
  } catch (releaseErr) {
    logger.error({ err: releaseErr, code: failure.code }, 'batch failed for good and could not be released');
  }
  return failure.retryable ? err : new UnrecoverableError(`${failure.code}: ${String(err)}`);
}
