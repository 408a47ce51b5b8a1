import { DelayedError, type Job, Worker } from 'bullmq';
import type { RedisConnection } from '../lib/core/redis.ts';
import type { Config } from '../lib/core/config.ts';
import { errorCode } from '../lib/core/errors.ts';
import { BATCH_QUEUE } from '../lib/jobs/pipeline-queues.ts';
import { backoffStrategy, type QueueName } from '../lib/jobs/registry.ts';
import { authPauseDelayMs, type JobContext, type ProcessorDeps, type StepProcessor } from './context.ts';
import { auditedDeps } from './hooks/audit.ts';
import { classifyFailure, clearStaleDeadLetter, recordDead, settleFailure } from './hooks/dead-letter.ts';
import { jobFields } from './hooks/job-fields.ts';
import { recordCompleted, recordFailed } from './hooks/metrics.ts';
import { endIfCancelled } from './hooks/run-cancel.ts';
import { lifecycleProcessors, pipelineProcessors } from './processor-list.ts';
import { releaseBatch, settleBatchFailure } from './provision.ts';

/**
 * The only place that builds BullMQ Workers, and the job boundary: each job's payload is parsed
 * once by its step's definition (invalid → permanent), the step runs with a child logger and
 * context, and small hooks around it record audit (hooks/audit.ts), metrics (hooks/metrics.ts)
 * and failures: retries counted, final failures dead-lettered (hooks/dead-letter.ts).
 */

export interface StartWorkersOptions {
  /** Connection BullMQ workers use (`createRedis(url, 'worker')`); each worker duplicates it for blocking. */
  connection: RedisConnection;
  /** Default: every processor in `pipelineProcessors` and `lifecycleProcessors`, plus `extraProcessors`. */
  queues?: QueueName[];
  extraProcessors?: readonly StepProcessor[];
  /** Jobs per queue per process. Default `config.jobs.concurrency`. */
  concurrency?: number;
  /** Job lock (ms) before a silent worker's job counts as stalled. Default `config.jobs.lockDurationMs`. */
  lockDurationMs?: number;
  /** How often stalled jobs are looked for (ms). Default `lockDurationMs`. */
  stalledIntervalMs?: number;
  /** A job may stall this often (worker crashes) before it fails. Default `config.jobs.maxStalledCount`. */
  maxStalledCount?: number;
}

/**
 * How long a stopping worker waits for its active jobs before closing forcibly, ms: twice
 * DOORFLOW_TIMEOUT_MS (a job's DoorFlow call may just have started), at least 10 s. A supervisor's
 * grace period (docker-compose.yml `stop_grace_period`) must be longer.
 */
export function drainGraceMs(config: Pick<Config, 'doorflow'>): number {
  return Math.max(10_000, config.doorflow.timeoutMs * 2);
}

export interface RunningWorkers {
  readonly workers: Worker[];
  /**
   * Stops taking jobs and waits for active ones to finish, at most `graceMs` (default
   * {@link drainGraceMs}); then closes forcibly.
   */
  close(graceMs?: number): Promise<void>;
}

export async function startWorkers(
  deps: ProcessorDeps,
  options: StartWorkersOptions,
): Promise<RunningWorkers> {
  // One worker per queue: an extra processor for a queue replaces the default one.
  const byQueue = new Map<QueueName, StepProcessor>();
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
        concurrency: queueConcurrency(
          definition.queueName,
          options.concurrency ?? deps.config.jobs.concurrency,
          deps.config.jobs.batchSize,
        ),
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
      const settle =
        definition.queueName === BATCH_QUEUE
          ? releaseBatch(deps, job.data, deps.logger)
          : recordDead(definition.queueName, deps, job, err);
      void settle.catch((e: unknown) => deps.logger.error({ err: e }, 'could not record a dead letter'));
    });
    return worker;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  deps.logger.info({ queues: definitions.map((d) => d.queueName) }, 'workers started');
  return {
    workers,
    async close(graceMs = drainGraceMs(deps.config)) {
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

/**
 * Jobs a worker runs at once on a queue. A batch job carries `batchSize` entries, all in flight
 * together, so its queue runs about three times `concurrency` entries per process (the step queues
 * together ran four times it) — at least three batches, so while one batch waits for its slowest
 * entries the others keep DoorFlow busy (DOORFLOW_MAX_IN_FLIGHT still bounds the requests).
 */
function queueConcurrency(queue: QueueName, concurrency: number, batchSize: number): number {
  if (queue !== BATCH_QUEUE) return concurrency;
  return Math.max(3, Math.ceil((3 * concurrency) / batchSize));
}

/** The per-job helpers a step gets: its logger, id, abort signal, and the "not ready yet" delay. */
function jobContext(
  job: Job,
  token: string | undefined,
  signal: AbortSignal | undefined,
  logger: JobContext['logger'],
): JobContext {
  return {
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
}

/** One job through the boundary: the step (parse + handler) with the hooks around it. */
async function runJob(
  definition: StepProcessor,
  deps: ProcessorDeps,
  job: Job,
  token: string | undefined,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  const queue = definition.queueName;
  const fields = jobFields(job.data);
  const logger = deps.logger.child({ queue, jobId: job.id, runId: fields.runId, key: fields.key });
  const ctx = jobContext(job, token, signal, logger);
  const started = performance.now();
  try {
    const result = (await endIfCancelled(queue, deps, fields, logger))
      ? 'cancelled'
      : // A batch audits per entry (provision.ts), with each entry's roster key.
        await definition.run(job.data, queue === BATCH_QUEUE ? deps : auditedDeps(deps, fields, logger), ctx);
    recordCompleted(deps.metrics, queue, performance.now() - started, result);
    await clearStaleDeadLetter(deps, queue, job);
    return result;
  } catch (err) {
    if (err instanceof DelayedError) throw err;
    // DoorFlow access is paused fleet-wide: wait, spending no attempt, until the token is replaced.
    if (errorCode(err) === 'auth_paused') {
      logger.debug('DoorFlow access paused; delaying the job');
      throw await ctx.delay(authPauseDelayMs());
    }
    const failure = classifyFailure(err, job);
    recordFailed(deps.metrics, queue, performance.now() - started, failure);
    if (queue === BATCH_QUEUE) throw await settleBatchFailure(deps, job.data, err, failure, logger);
    throw await settleFailure(deps, queue, job, err, failure, logger);
  }
}
