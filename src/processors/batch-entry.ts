import { errorCode, isRetryable } from '../lib/core/errors.ts';
import type { Logger } from '../lib/core/logger.ts';
import { backoffStrategy, type PayloadInput, stepJobId } from '../lib/jobs/registry.ts';
import {
  authPauseDelayMs,
  type JobContext,
  type NextStep,
  type ProcessorDeps,
  type StepProcessor,
} from './context.ts';
import { credentialProcessor } from './credential.ts';
import { deliveryProcessors } from './deliver.ts';
import { handOverProcessor } from './hand-over.ts';
import { isExpectedOutcome, recordDeadEntry } from './hooks/dead-letter.ts';
import { jobFields } from './hooks/job-fields.ts';
import { recordCompleted, recordFailed } from './hooks/metrics.ts';
import { personProcessor } from './person.ts';

/**
 * One entry of a batch job (provision.ts) through person → credential → hand-over → delivery in
 * this process: each step is the step queue's own handler, given a job context whose
 * `continueWith` takes the next step here instead of adding its job (advance.ts). Whatever would
 * hold a job back makes the entry leave the batch for the queue of the step where it stopped,
 * with that step's payload and job id (`stepJobId`): a "not ready yet" delay (lock contention,
 * the code not readable yet, the auth pause) as a delayed job, a retryable failure with the
 * backoff its first retry would have had. From there the step queue's retries, dead letters and
 * replays apply unchanged. A permanent failure is dead-lettered for this entry alone, as its step
 * would. Nothing here throws for the entry's own failures: only Redis trouble reaches the batch.
 */

/** The steps an entry goes through, by queue. */
type EntryStep = 'person' | NextStep;

const STEPS: ReadonlyMap<string, StepProcessor> = new Map(
  [personProcessor, credentialProcessor, handOverProcessor, ...deliveryProcessors].map((d) => [
    d.queueName,
    d,
  ]),
);

/** The error a step throws after `ctx.delay` inside a batch: the entry has left for its step queue. */
class LeftBatch extends Error {}

/** What one entry of a batch runs with. */
export interface BatchEntry {
  runId: string;
  gen: number;
  key: string;
  /** The batch's deps, audited with this entry's run and roster key. */
  deps: ProcessorDeps;
  logger: Logger;
  signal: AbortSignal | undefined;
  /** Whether the run was cancelled (the batch asks Redis at most every few hundred ms). */
  cancelled(): Promise<boolean>;
}

/** Provisions one entry from its person step; returns once it has settled or left the batch. */
export async function provisionEntry(entry: BatchEntry, first: PayloadInput<'person'>): Promise<void> {
  const pending: { step?: { queue: EntryStep; data: Record<string, unknown> } } = {
    step: { queue: 'person', data: first },
  };
  while (pending.step) {
    const { queue } = pending.step;
    let data = pending.step.data;
    pending.step = undefined;
    if (await entry.cancelled()) {
      await cancelEntry(entry, queue, data);
      return;
    }
    const step = STEPS.get(queue);
    if (!step) throw new Error(`no step handler for ${queue}`);
    const ctx: JobContext = {
      logger: entry.logger,
      jobId: stepJobId(entry.runId, entry.key, entry.gen),
      attemptsMade: 0,
      signal: entry.signal,
      async delay(ms) {
        await leave(entry, queue, data, ms);
        return new LeftBatch();
      },
      async updateData(next) {
        data = next;
      },
      continueWith(next, payload) {
        pending.step = { queue: next, data: payload };
      },
    };
    const started = performance.now();
    try {
      const result = await step.run(data, entry.deps, ctx);
      recordCompleted(entry.deps.metrics, queue, performance.now() - started, result);
    } catch (err) {
      // A step that failed after naming its successor did not finish: only it is retried.
      pending.step = undefined;
      if (!(err instanceof LeftBatch)) await failed(entry, queue, data, err, performance.now() - started);
    }
  }
}

/** The cancel hook of a step queue, per entry: ended `cancelled` without running the step. */
async function cancelEntry(
  entry: BatchEntry,
  queue: EntryStep,
  data: Record<string, unknown>,
): Promise<void> {
  const { personId, credentialId } = jobFields(data);
  await entry.deps.runs.move(entry.runId, entry.key, 'cancelled', {
    step: queue,
    message: 'run cancelled before this step',
    ...(personId !== undefined ? { personId } : {}),
    ...(credentialId !== undefined ? { credentialId } : {}),
  });
}

/**
 * The failure side for one entry, as the job boundary (worker.ts, hooks/dead-letter.ts) would
 * settle the step's own job on its first attempt.
 */
async function failed(
  entry: BatchEntry,
  queue: EntryStep,
  data: Record<string, unknown>,
  err: unknown,
  durationMs: number,
): Promise<void> {
  const { deps, logger } = entry;
  const code = errorCode(err);
  if (code === 'auth_paused') {
    await leave(entry, queue, data, authPauseDelayMs());
    return;
  }
  const retryable = isRetryable(err);
  const final = !retryable || deps.config.jobs.attempts <= 1;
  recordFailed(deps.metrics, queue, durationMs, { code, final });
  if (!final) {
    logger.info({ code, step: queue }, 'entry failed; retried alone in its step queue');
    await deps.runs.countRetry(entry.runId, queue);
    const backoff = backoffStrategy(deps.config.jobs)(1, undefined, err instanceof Error ? err : undefined);
    await leave(entry, queue, data, backoff);
    return;
  }
  if (isExpectedOutcome(err, { code, retryable, final })) {
    logger.warn({ code, step: queue, reason: err.message }, 'entry failed for good: dead-lettered');
  } else {
    logger.warn({ err, code, step: queue }, 'entry failed for good: dead-lettered');
  }
  const jobId = stepJobId(entry.runId, entry.key, entry.gen);
  await recordDeadEntry(queue, deps, { jobId, attemptsMade: 0, data }, err);
}

/**
 * Hands the entry to its step's own queue. The job first, then the move: a batch that dies in
 * between finds the entry still in the batch and runs it again (the step is idempotent, and the
 * job id makes a second add a no-op), whereas the other order could leave an entry recorded at a
 * step with no job. At `person` the status does not change, so `step` in the detail marks it as
 * handed off (provision.ts skips it on a rerun).
 */
async function leave(
  entry: BatchEntry,
  queue: EntryStep,
  data: Record<string, unknown>,
  delayMs: number,
): Promise<void> {
  const { deps } = entry;
  const jobId = stepJobId(entry.runId, entry.key, entry.gen);
  // `data` is the payload this step's handler was given or wrote (typed where it was built).
  await deps.queues.get(queue).add(queue, data, { jobId, ...(delayMs > 0 ? { delay: delayMs } : {}) });
  const { personId, credentialId } = jobFields(data);
  await deps.runs.move(entry.runId, entry.key, queue, {
    step: queue,
    ...(personId !== undefined ? { personId } : {}),
    ...(credentialId !== undefined ? { credentialId } : {}),
  });
  entry.logger.debug({ step: queue, delayMs }, 'entry left its batch for its step queue');
}
