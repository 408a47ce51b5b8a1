import type { Redis } from 'ioredis';
import { type Config, type Env, loadConfig, processEnv, secretValues } from './lib/config.ts';
import { createDoorFlowClient, type DoorFlowClient } from './lib/doorflow/client.ts';
import { createLogger, type Logger } from './lib/logger.ts';
import { createRedis, type EmbeddedRedis, type RedisRole, startEmbeddedRedis } from './lib/redis.ts';

/**
 * Composition root helpers. CLI commands call these to build what they need; nothing else builds
 * singletons. Every opened resource registers a closer, and {@link Runtime.close} runs them in
 * reverse order.
 */
export interface Runtime {
  readonly config: Config;
  readonly logger: Logger;
  /** Register a resource to close on shutdown (closed last-in, first-out). */
  onClose(closer: () => Promise<void> | void): void;
  close(): Promise<void>;
}

export function buildConfig(overrides: Env = {}): Config {
  return loadConfig(processEnv(), overrides);
}

export function buildRuntime(
  config: Config,
  options: { logDestination?: NodeJS.WritableStream } = {},
): Runtime {
  const logger = createLogger({
    level: config.logLevel,
    secrets: secretValues(config),
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  const closers: (() => Promise<void> | void)[] = [];
  let closed = false;
  return {
    config,
    logger,
    onClose(closer) {
      closers.push(closer);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const closer of closers.reverse()) {
        try {
          await closer();
        } catch (err) {
          logger.warn({ err }, 'error while closing a resource');
        }
      }
    },
  };
}

/**
 * The Redis URL to use: REDIS_URL when set; otherwise, when `allowEmbedded` (demo, simulate),
 * a private redis-server started for this process and stopped on close.
 */
export async function resolveRedisUrl(
  runtime: Runtime,
  options: { allowEmbedded: boolean },
): Promise<{ url: string; embedded: EmbeddedRedis | undefined }> {
  if (runtime.config.redisUrl) return { url: runtime.config.redisUrl, embedded: undefined };
  if (!options.allowEmbedded) {
    throw new Error('REDIS_URL is not set: expected a redis:// URL such as redis://127.0.0.1:6379');
  }
  const embedded = await startEmbeddedRedis();
  runtime.onClose(() => embedded.stop());
  runtime.logger.info({ url: embedded.url }, 'started an embedded redis-server');
  return { url: embedded.url, embedded };
}

/** Opens a Redis connection that closes with the runtime. */
export function openRedis(runtime: Runtime, url: string, role: RedisRole): Redis {
  const redis = createRedis(url, role);
  redis.on('error', (err) => runtime.logger.debug({ err }, 'redis connection error'));
  runtime.onClose(async () => {
    try {
      await redis.quit();
    } catch {
      redis.disconnect();
    }
  });
  return redis;
}

/**
 * The one DoorFlow client of this process: the fleet-wide budget and the shared tokens live under
 * the queue prefix in `redis`, so every process of the fleet shares them. Closes with the runtime.
 */
export function buildDoorFlowClient(runtime: Runtime, redis: Redis): DoorFlowClient {
  const client = createDoorFlowClient({
    config: runtime.config.doorflow,
    redis,
    prefix: runtime.config.queuePrefix,
    logger: runtime.logger.child({ component: 'doorflow' }),
    encryptionKey: runtime.config.encryptionKey,
  });
  runtime.onClose(() => client.close());
  return client;
}
