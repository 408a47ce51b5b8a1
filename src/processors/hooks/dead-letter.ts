import { type Job, UnrecoverableError } from 'bullmq';
import { errorCode, isRetryable, ProvisionerError } from '../../lib/core/errors.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { QueueName } from '../../lib/jobs/registry.ts';
import { stripSecrets } from '../../lib/store/dead-letters.ts';
import type { ProcessorDeps } from '../context.ts';
import { jobFields } from './job-fields.ts';

/**
 * The failure side of the job boundary: classify a step's error (permanent or retryable, last
 * attempt or not), count retries in the run, and on the final failure record a dead letter and
 * mark the run entry dead. A step's run status and dead-letter step name are its queue name.
 */

export interface Failure {
  code: string;
  retryable: boolean;
  /** No attempt follows (permanent, or the last attempt). */
  final: boolean;
}

export function classifyFailure(err: unknown, job: Job): Failure {
  const retryable = isRetryable(err);
  return {
    code: errorCode(err),
    retryable,
    final: !retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
  };
}

/**
 * Records what a failed attempt means and returns the error to throw to BullMQ: a permanent
 * failure as `UnrecoverableError` (no retries), otherwise the error itself.
 */
export async function settleFailure(
  deps: ProcessorDeps,
  queue: QueueName,
  job: Job,
  err: unknown,
  failure: Failure,
  logger: Logger,
): Promise<unknown> {
  const { code } = failure;
  if (failure.final) {
    if (isExpectedOutcome(err, failure)) {
      // A business outcome (licence_limit, email_conflict, an invalid entry…): one line, no stack.
      logger.warn({ code, reason: err.message }, 'job failed for good: dead-lettered');
    } else {
      logger.warn({ err, code }, 'job failed for good: dead-lettered');
    }
    await recordDead(queue, deps, job, err);
    if (!failure.retryable) {
      return new UnrecoverableError(`${code}: ${err instanceof Error ? err.message : String(err)}`);
    }
  } else {
    logger.info({ code, attempt: job.attemptsMade + 1 }, 'job failed; will retry');
    const { runId } = jobFields(job.data);
    if (runId !== undefined) await deps.runs.countRetry(runId, queue);
  }
  return err;
}

/**
 * A permanent failure our own code classified (a {@link ProvisionerError} that is not retryable):
 * DoorFlow said no for a reason an operator reads in the dead letter, not a bug, so its stack
 * trace says nothing. Anything else (an unexpected error, retries exhausted) keeps its stack.
 */
export function isExpectedOutcome(err: unknown, failure: Failure): err is ProvisionerError {
  return err instanceof ProvisionerError && !failure.retryable && failure.code !== 'internal_error';
}

/** After a success: only a job that ran before (crash, retry, replay) can have left a dead letter. */
export async function clearStaleDeadLetter(deps: ProcessorDeps, queue: QueueName, job: Job): Promise<void> {
  const { runId, key, gen } = jobFields(job.data);
  const ranBefore = job.attemptsMade > 0 || (job.attemptsStarted ?? 0) > 1 || gen > 0;
  if (ranBefore && runId !== undefined && key !== undefined) {
    await deps.deadLetters.clear(runId, key, queue);
  }
}

/** The HTTP status behind an error (ours may wrap the client's error as `cause`). */
function httpStatusOf(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const status = Reflect.get(e, 'status');
    if (typeof status === 'number') return status;
    e = Reflect.get(e, 'cause');
  }
  return undefined;
}

/** What a dead letter is recorded from: a BullMQ job, or one entry of a batch job (processors/provision.ts). */
export interface FailedEntry {
  /** The step job's id (for a batch entry: the id its step's own job has, `stepJobId`). */
  jobId: string;
  attemptsMade: number;
  data: Record<string, unknown>;
}

/** Stores the dead letter, marks the run entry dead and drops the code from BullMQ's failed copy. */
export async function recordDead(
  queue: QueueName,
  deps: ProcessorDeps,
  job: Job,
  err: unknown,
): Promise<void> {
  const data: Record<string, unknown> = job.data ?? {};
  await recordDeadEntry(queue, deps, { jobId: job.id ?? '', attemptsMade: job.attemptsMade, data }, err);
  if ('encryptedCode' in data) await job.updateData(stripSecrets(data)).catch(() => undefined);
}

/** Stores the dead letter of one entry at step `queue` and marks its run entry `dead:{queue}`. */
export async function recordDeadEntry(
  queue: QueueName,
  deps: ProcessorDeps,
  failed: FailedEntry,
  err: unknown,
): Promise<void> {
  const { data } = failed;
  const fields = jobFields(data);
  const runId = fields.runId ?? 'unknown';
  const key = fields.key ?? `job:${failed.jobId}`;
  const status = httpStatusOf(err);
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  await deps.deadLetters.store({
    queue,
    runId,
    key,
    jobId: failed.jobId,
    code,
    message,
    ...(typeof status === 'number' ? { httpStatus: status } : {}),
    attempts: failed.attemptsMade + 1,
    payload: data,
  });
  await deps.runs.move(runId, key, `dead:${queue}`, {
    code,
    message,
    step: queue,
    ...(fields.personId !== undefined ? { personId: fields.personId } : {}),
    ...(fields.credentialId !== undefined ? { credentialId: fields.credentialId } : {}),
  });
}
