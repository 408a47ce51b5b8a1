import { hostname } from 'node:os';
import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { auditedDoorFlow } from './hooks/audit.ts';
import { stripSecrets } from '../lib/store/dead-letters.ts';
import { errorCode, isRetryable, PayloadError } from '../lib/core/errors.ts';
import { backoffStrategy, type QueueName } from '../lib/jobs/registry.ts';
import type { JobContext, ProcessorDeps } from './context.ts';
import * as credential from './credential.ts';
import * as deliverWebhook from './deliver-webhook.ts';
import * as invitation from './invitation.ts';
import { lifecycleProcessors } from './lifecycle/index.ts';
import * as offboard from './lifecycle/offboard.ts';
import * as person from './person.ts';

/**
 * The only place that builds BullMQ Workers. Binds each processor to its queue: validates the
 * payload (invalid → unrecoverable), gives the handler a child logger and context, classifies
 * failures (permanent → UnrecoverableError), and on the final failure records a dead letter and
 * marks the run entry dead.
 */

/** Who the audit log says made a worker's changes. */
const AUDIT_ACTOR = `worker:${hostname()}:${process.pid}`;

/** A step handler as one processor module exports it. */
export interface ProcessorDefinition {
  queueName: QueueName;
  payloadSchema: z.ZodType;
  handle(payload: never, deps: ProcessorDeps, ctx: JobContext): Promise<unknown>;
}

/** The pipeline's processors; other areas append theirs (delivery-email, delivery-sms, …). */
export const pipelineProcessors: ProcessorDefinition[] = [
  person,
  credential,
  invitation,
  deliverWebhook,
  offboard,
];

export interface StartWorkersOptions {
  /** Connection BullMQ workers use (`createRedis(url, 'worker')`); each worker duplicates it for blocking. */
  connection: Redis;
  /** Default: every processor in {@link pipelineProcessors} and `lifecycleProcessors`, plus `extraProcessors`. */
  queues?: QueueName[];
  extraProcessors?: ProcessorDefinition[];
  /** Jobs per queue per process. Default `config.jobs.concurrency`. */
  concurrency?: number;
  /** Job lock (ms) before a silent worker's job counts as stalled. Default `config.jobs.lockDurationMs`. */
  lockDurationMs?: number;
  /** How often stalled jobs are looked for (ms). Default `lockDurationMs`. */
  stalledIntervalMs?: number;
  /** A job may stall this often (worker crashes) before it fails. Default `config.jobs.maxStalledCount`. */
  maxStalledCount?: number;
}

export interface RunningWorkers {
  readonly workers: Worker[];
  /**
   * Stops taking jobs and waits for active ones to finish, at most `graceMs` (default twice
   * DOORFLOW_TIMEOUT_MS, at least 10 s); then closes forcibly.
   */
  close(graceMs?: number): Promise<void>;
}

/** A step's run status and dead-letter step name are its queue name. */
function entryStep(queue: QueueName): string {
  return queue;
}

export async function startWorkers(
  deps: ProcessorDeps,
  options: StartWorkersOptions,
): Promise<RunningWorkers> {
  // One worker per queue: an extra processor for a queue replaces the default one.
  const byQueue = new Map<QueueName, ProcessorDefinition>();
  for (const d of [...pipelineProcessors, ...lifecycleProcessors, ...(options.extraProcessors ?? [])]) {
    byQueue.set(d.queueName, d);
  }
  const definitions = [...byQueue.values()].filter(
    (d) => !options.queues || options.queues.includes(d.queueName),
  );
  const lockDuration = options.lockDurationMs ?? deps.config.jobs.lockDurationMs;
  const workers = definitions.map((definition) => {
    const worker = new Worker(
      definition.queueName,
      (job, token, signal) => runJob(definition, deps, job, token, signal),
      {
        connection: options.connection,
        prefix: deps.queues.prefix,
        concurrency: options.concurrency ?? deps.config.jobs.concurrency,
        lockDuration,
        stalledInterval: options.stalledIntervalMs ?? lockDuration,
        maxStalledCount: options.maxStalledCount ?? deps.config.jobs.maxStalledCount,
        settings: { backoffStrategy: backoffStrategy(deps.config.jobs) },
        autorun: true,
      },
    );
    worker.on('error', (err) => deps.logger.error({ err, queue: definition.queueName }, 'worker error'));
    // Jobs failed by BullMQ itself (stalled too often) never reach our handler: dead-letter them here.
    worker.on('failed', (job, err) => {
      if (!job || !/stalled/i.test(err.message)) return;
      void recordDead(definition.queueName, deps, job, err).catch((e: unknown) =>
        deps.logger.error({ err: e }, 'could not record a dead letter'),
      );
    });
    return worker;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  deps.logger.info({ queues: definitions.map((d) => d.queueName) }, 'workers started');
  return {
    workers,
    async close(graceMs = Math.max(10_000, deps.config.doorflow.timeoutMs * 2)) {
      // Active jobs may finish within the bound; past it they are abandoned and, like a crash,
      // recovered by another worker once their lock expires (every step is idempotent).
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      });
      const graceful = Promise.all(workers.map((w) => w.close())).then(() => false);
      const late = await Promise.race([graceful, timedOut]);
      clearTimeout(timer);
      if (late) {
        deps.logger.warn({ graceMs }, 'active jobs did not finish in time: closing workers forcibly');
        await Promise.all(workers.map((w) => w.close(true)));
      }
    },
  };
}

async function runJob(
  definition: ProcessorDefinition,
  deps: ProcessorDeps,
  job: Job,
  token: string | undefined,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  const data = (job.data ?? {}) as Record<string, unknown>;
  const logger = deps.logger.child({
    queue: definition.queueName,
    jobId: job.id,
    runId: data.runId,
    key: data.key,
  });
  const ctx: JobContext = {
    logger,
    jobId: job.id ?? '',
    attemptsMade: job.attemptsMade,
    signal,
    async delay(ms) {
      await job.moveToDelayed(Date.now() + ms, token);
      return new DelayedError();
    },
    async updateData(next) {
      await job.updateData(next);
    },
  };
  const started = performance.now();
  // Every DoorFlow write of this job is audited with its run and roster key.
  const jobDeps: ProcessorDeps = deps.audit
    ? {
        ...deps,
        doorflow: auditedDoorFlow(
          deps.doorflow,
          deps.audit,
          {
            actor: AUDIT_ACTOR,
            ...(typeof data.runId === 'string' ? { runId: data.runId } : {}),
            ...(typeof data.key === 'string' ? { key: data.key } : {}),
          },
          logger,
        ),
      }
    : deps;
  try {
    const parsed = definition.payloadSchema.safeParse(job.data);
    if (!parsed.success)
      throw new PayloadError(`job payload is invalid: ${parsed.error.issues[0]?.message ?? ''}`);
    const result = await definition.handle(parsed.data as never, jobDeps, ctx);
    deps.metrics?.job(definition.queueName, 'completed', performance.now() - started);
    if (definition.queueName.startsWith('delivery-')) {
      deps.metrics?.delivery(
        definition.queueName.slice(9),
        typeof result === 'string' ? result : 'completed',
      );
    }
    // Only a job that ran before (crash, retry, replay) can have left a dead letter behind.
    const ranBefore = job.attemptsMade > 0 || (job.attemptsStarted ?? 0) > 1 || Number(data.gen ?? 0) > 0;
    if (ranBefore && typeof data.runId === 'string' && typeof data.key === 'string') {
      await deps.deadLetters.clear(data.runId, data.key, definition.queueName);
    }
    return result;
  } catch (err) {
    if (err instanceof DelayedError) throw err;
    const retryable = isRetryable(err);
    const final = !retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const code = errorCode(err);
    deps.metrics?.job(definition.queueName, 'failed', performance.now() - started, code);
    if (definition.queueName.startsWith('delivery-')) {
      deps.metrics?.delivery(definition.queueName.slice(9), final ? 'failed' : 'retrying');
    }
    if (final) {
      logger.warn({ err, code }, 'job failed for good: dead-lettered');
      await recordDead(definition.queueName, deps, job, err);
      if (!retryable) throw new UnrecoverableError(`${code}: ${(err as Error).message}`);
    } else {
      logger.info({ code, attempt: job.attemptsMade + 1 }, 'job failed; will retry');
      if (typeof data.runId === 'string')
        await deps.runs.countRetry(data.runId, entryStep(definition.queueName));
    }
    throw err;
  }
}

/** The HTTP status behind an error (ours may wrap the client's error as `cause`). */
function httpStatusOf(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const status = (e as { status?: unknown }).status;
    if (typeof status === 'number') return status;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

async function recordDead(queue: QueueName, deps: ProcessorDeps, job: Job, err: unknown): Promise<void> {
  const data = (job.data ?? {}) as Record<string, unknown>;
  const runId = typeof data.runId === 'string' ? data.runId : 'unknown';
  const key = typeof data.key === 'string' ? data.key : `job:${job.id}`;
  const status = httpStatusOf(err);
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  await deps.deadLetters.store({
    queue,
    runId,
    key,
    jobId: job.id ?? '',
    code,
    message,
    ...(typeof status === 'number' ? { httpStatus: status } : {}),
    attempts: job.attemptsMade + 1,
    payload: data,
  });
  await deps.runs.move(runId, key, `dead:${entryStep(queue)}`, {
    code,
    message,
    step: queue,
    ...(typeof data.personId === 'number' ? { personId: data.personId } : {}),
    ...(typeof data.credentialId === 'string' ? { credentialId: data.credentialId } : {}),
  });
  // The failed copy BullMQ keeps must not hold the (encrypted) invitation code.
  if ('encryptedCode' in data) await job.updateData(stripSecrets(data)).catch(() => undefined);
}

export type { JobContext, ProcessorDeps } from './context.ts';
