import got from 'got';
import type { Redis } from 'ioredis';
import { type Clock, systemClock } from '../lib/core/clock.ts';
import type { Config } from '../lib/core/config.ts';
import type { DeadLetterStore } from '../lib/store/dead-letters.ts';
import { createDoorFlowClient, type DoorFlowClient } from '../lib/doorflow/client.ts';
import type { AuditLog } from '../lib/store/audit-log.ts';
import type { Logger } from '../lib/core/logger.ts';
import { type Metrics, noopMetrics } from '../lib/core/metrics.ts';
import type { PeopleIndex } from '../lib/store/people-index.ts';
import { createQueues, type Queues } from '../lib/jobs/registry.ts';
import { createRedis } from '../lib/core/redis.ts';
import { RedisKeys } from '../lib/store/keys.ts';
import type { RunStore } from '../lib/store/runs.ts';
import { createStores, type Stores } from '../lib/store/stores.ts';
import { buildConfig, buildRuntime, resolveRedisUrl, type Runtime } from './connections.ts';
import type { ProcessorDeps } from '../processors/context.ts';
import type { IntakeDeps } from '../producers/intake.ts';

/**
 * Composition of the pipeline's parts for a command (worker, import, dlq, runs, demo) and for
 * tests: two Redis connections (commands + BullMQ workers), the queue registry, run records, the
 * dead-letter store, the people index and the DoorFlow client. `close()` releases all of it.
 */
export interface Pipeline {
  readonly config: Config;
  readonly redis: Redis;
  /** BullMQ worker connection (retries forever); opened lazily. */
  workerConnection(): Redis;
  readonly queues: Queues;
  /** Every Redis key of ours, under the queue prefix. */
  readonly keys: RedisKeys;
  /** Every store over `redis` (runs, dead letters, people and the rest). */
  readonly stores: Stores;
  readonly runs: RunStore;
  readonly deadLetters: DeadLetterStore;
  readonly people: PeopleIndex;
  /** No-op unless the composition root passed one. */
  readonly metrics: Metrics;
  /** Audit log of DoorFlow changes (every processor write goes through it). */
  readonly audit: AuditLog;
  /** The DoorFlow client; opened lazily (dlq/runs commands never need it). */
  doorflow(): DoorFlowClient;
  processorDeps(): ProcessorDeps;
  intakeDeps(withDoorFlow?: boolean): IntakeDeps;
  close(): Promise<void>;
}

export function buildPipeline(
  config: Config,
  options: {
    redisUrl: string;
    logger: Logger;
    clock?: Clock;
    role?: 'worker' | 'producer';
    /** The process's metrics recorder (built in the composition root); no-op when absent. */
    metrics?: Metrics;
  },
): Pipeline {
  const prefix = config.queuePrefix;
  const clock = options.clock ?? systemClock;
  const redis = createRedis(options.redisUrl, options.role ?? 'producer');
  redis.on('error', (err) => options.logger.debug({ err }, 'redis connection error'));
  let workerRedis: Redis | undefined;
  let client: DoorFlowClient | undefined;
  const queues = createQueues(redis, prefix, config.jobs);
  const keys = new RedisKeys(prefix);
  const metrics = options.metrics ?? noopMetrics;
  const stores = createStores(redis, keys, clock, {
    auditRetentionMs: config.admin.auditRetentionMs,
    metrics,
  });
  const { runs, deadLetters, people, audit } = stores;
  const http = got.extend({ retry: { limit: 0 } });
  const doorflow = () => {
    client ??= createDoorFlowClient({
      config: config.doorflow,
      redis,
      keys,
      logger: options.logger,
      clock,
      metrics,
      encryptionKey: config.encryptionKey,
    });
    return client;
  };
  const pipeline: Pipeline = {
    config,
    redis,
    workerConnection() {
      workerRedis ??= createRedis(options.redisUrl, 'worker');
      return workerRedis;
    },
    queues,
    keys,
    stores,
    runs,
    deadLetters,
    people,
    metrics,
    audit,
    doorflow,
    processorDeps() {
      const api = doorflow();
      return {
        config,
        doorflow: api,
        hidCredentialTypeId: () => api.resolveHidCredentialTypeId(),
        redis,
        prefix,
        keys,
        queues,
        runs,
        deadLetters,
        people,
        managed: stores.managed,
        credentials: stores.credentials,
        deliveries: stores.deliveries,
        codes: stores.codes,
        syncRuns: stores.syncRuns,
        alerts: stores.alerts,
        http,
        clock,
        logger: options.logger,
        metrics,
        audit,
      };
    },
    intakeDeps(withDoorFlow = true) {
      return {
        config,
        queues,
        runs,
        people,
        logger: options.logger,
        ...(withDoorFlow ? { doorflow: doorflow() } : {}),
      };
    },
    async close() {
      await queues.close();
      await client?.close();
      for (const connection of [workerRedis, redis]) {
        if (!connection) continue;
        try {
          await connection.quit();
        } catch {
          connection.disconnect();
        }
      }
    },
  };
  return pipeline;
}

/**
 * Runs a command (runs, dlq, status, revoke, reissue…) against the configured Redis (never an
 * embedded one); `fn` returns the exit code. Everything opened is closed afterwards.
 */
export async function withPipelineCommand(
  fn: (pipeline: Pipeline, runtime: Runtime) => Promise<number>,
): Promise<void> {
  const config = buildConfig();
  const runtime = buildRuntime(config);
  try {
    const { url } = await resolveRedisUrl(runtime, { allowEmbedded: false });
    const pipeline = buildPipeline(config, { redisUrl: url, logger: runtime.logger });
    runtime.onClose(() => pipeline.close());
    process.exitCode = await fn(pipeline, runtime);
  } finally {
    await runtime.close();
  }
}
