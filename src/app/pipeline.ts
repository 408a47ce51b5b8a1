import got from 'got';
import type { RedisConnection } from '../lib/core/redis.ts';
import { type Clock, systemClock } from '../lib/core/clock.ts';
import type { Config } from '../lib/core/config.ts';
import type { Logger } from '../lib/core/logger.ts';
import { type Metrics, noopMetrics } from '../lib/core/metrics.ts';
import { createRedis, type RedisRole, type RedisTarget } from '../lib/core/redis.ts';
import { createDeliveryChannels, type DeliveryChannels } from '../lib/delivery/delivery-channels.ts';
import { notifyAuthPaused } from '../lib/ops/notify.ts';
import { createDoorFlowClient, type DoorFlowClient } from '../lib/doorflow/client.ts';
import { createQueues, type Queues } from '../lib/jobs/registry.ts';
import type { AuditLog } from '../lib/store/audit-log.ts';
import type { DeadLetterStore } from '../lib/store/dead-letters.ts';
import { RedisKeys } from '../lib/store/keys.ts';
import type { PeopleIndex } from '../lib/store/people-index.ts';
import type { RunStore } from '../lib/store/runs.ts';
import { createStores, type Stores } from '../lib/store/stores.ts';
import type { ProcessorDeps } from '../processors/context.ts';
import type { IntakeDeps } from '../producers/intake.ts';
import { buildConfig, buildRuntime, type Runtime } from './runtime.ts';

/**
 * The heavy half of the composition root (the light half, config and logger, is runtime.ts): the
 * one place that opens Redis (commands + BullMQ workers), builds the DoorFlow client, the stores,
 * the delivery channels and the queues, hands them to processors and producers as their deps, and
 * closes them in order. Commands, `serve`, tests, bench and chaos all build their pipeline here.
 */
export interface Pipeline {
  readonly config: Config;
  readonly logger: Logger;
  readonly redis: RedisConnection;
  /** BullMQ worker connection (retries forever); opened lazily. */
  workerConnection(): RedisConnection;
  readonly queues: Queues;
  /** Every Redis key of ours, under the queue prefix. */
  readonly keys: RedisKeys;
  /** Every store over `redis` (runs, dead letters, people and the rest). */
  readonly stores: Stores;
  readonly runs: RunStore;
  readonly deadLetters: DeadLetterStore;
  readonly people: PeopleIndex;
  /** No-op unless the caller passed one. */
  readonly metrics: Metrics;
  /** Audit log of DoorFlow changes (every processor write goes through it). */
  readonly audit: AuditLog;
  /** Our own delivery channels; each makes its sender on first use. */
  readonly channels: DeliveryChannels;
  /** The DoorFlow client; opened lazily (dlq/runs commands never need it). */
  doorflow(): DoorFlowClient;
  processorDeps(): ProcessorDeps;
  intakeDeps(withDoorFlow?: boolean): IntakeDeps;
  close(): Promise<void>;
}

export interface PipelineOptions {
  /** One Redis (a URL) or a Redis Cluster (its nodes). */
  redis: RedisTarget;
  logger: Logger;
  clock?: Clock;
  /**
   * Role of the command connection (`producer` fails fast; `service` and `worker` reconnect for as
   * long as Redis is away). Default `producer`.
   */
  role?: RedisRole;
  /** The process's metrics recorder; no-op when absent. */
  metrics?: Metrics;
}

export function buildPipeline(config: Config, options: PipelineOptions): Pipeline {
  const prefix = config.queuePrefix;
  const clock = options.clock ?? systemClock;
  const logger = options.logger;
  const redis = createRedis(options.redis, options.role ?? 'producer');
  redis.on('error', (err) => logger.debug({ err }, 'redis connection error'));
  let workerRedis: RedisConnection | undefined;
  let client: DoorFlowClient | undefined;
  const queues = createQueues(redis, prefix, config.jobs);
  const keys = new RedisKeys(prefix);
  // Every figure this pipeline records carries its account (label `account`).
  const metrics = (options.metrics ?? noopMetrics).forAccount(config.account);
  const stores = createStores(redis, keys, clock, {
    auditRetentionMs: config.admin.auditRetentionMs,
    metrics,
  });
  const { runs, deadLetters, people, audit } = stores;
  // Outbound HTTP besides DoorFlow (delivery webhook, alerts): BullMQ is the one retry layer.
  const http = got.extend({ retry: { limit: 0 } });
  const channels = createDeliveryChannels({
    delivery: config.delivery,
    http,
    clock,
    timeoutMs: config.doorflow.timeoutMs,
  });
  // The one DoorFlow client of the process: its budget and tokens live under the prefix in Redis,
  // shared by every process of the fleet.
  const doorflow = () => {
    client ??= createDoorFlowClient({
      config: config.doorflow,
      redis,
      keys,
      logger,
      clock,
      metrics,
      encryptionKey: config.encryptionKey,
      onAuthPause: (pause) => {
        void notifyAuthPaused(config.lifecycle.notifyWebhookUrl, pause, logger);
      },
    });
    return client;
  };
  return {
    config,
    logger,
    redis,
    workerConnection() {
      if (!workerRedis) {
        workerRedis = createRedis(options.redis, 'worker');
        // Never an unhandled 'error' event during an outage: ioredis reconnects by itself.
        workerRedis.on('error', (err) => logger.debug({ err }, 'redis worker connection error'));
      }
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
    channels,
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
        runCancels: stores.runCancels,
        deadLetters,
        people,
        managed: stores.managed,
        credentials: stores.credentials,
        deliveries: stores.deliveries,
        codes: stores.codes,
        timers: stores.timers,
        syncRuns: stores.syncRuns,
        syncPlans: stores.syncPlans,
        licences: stores.licences,
        alerts: stores.alerts,
        http,
        channels,
        clock,
        logger,
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
        logger,
        ...(withDoorFlow ? { doorflow: doorflow() } : {}),
      };
    },
    async close() {
      // Records still buffered (store/audit-log.ts) go out before the connection does.
      await stores.audit.flush();
      await queues.close();
      await client?.close();
      channels.close();
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
}

/**
 * REDIS_URL or REDIS_CLUSTER_NODES, one of which every command but `demo` and `simulate` (they
 * start their own) needs.
 */
function redisTargetOf(config: Config): RedisTarget {
  if (config.redisCluster) return config.redisCluster;
  if (!config.redisUrl) {
    throw new Error(
      'REDIS_URL is not set: expected a redis:// URL such as redis://127.0.0.1:6379 (or REDIS_CLUSTER_NODES for a Redis Cluster)',
    );
  }
  return config.redisUrl;
}

/**
 * A command's pipeline on REDIS_URL or REDIS_CLUSTER_NODES, closed with the runtime (one close
 * chain); for the runtime's account, or another (`config`: {@link forAccount} of it).
 */
export function openPipeline(
  runtime: Runtime,
  options: Pick<PipelineOptions, 'role' | 'metrics'> = {},
  config: Config = runtime.config,
): Pipeline {
  const pipeline = buildPipeline(config, {
    redis: redisTargetOf(config),
    logger: runtime.logger,
    ...options,
  });
  runtime.onClose(() => pipeline.close());
  return pipeline;
}

/**
 * Runs a command (runs, dlq, status, revoke, reissue…) against the configured Redis; `fn`
 * returns the exit code. Everything opened is closed afterwards.
 */
export async function withPipelineCommand(
  fn: (pipeline: Pipeline, runtime: Runtime) => Promise<number>,
): Promise<void> {
  const runtime = buildRuntime(buildConfig());
  try {
    process.exitCode = await fn(openPipeline(runtime), runtime);
  } finally {
    await runtime.close();
  }
}
