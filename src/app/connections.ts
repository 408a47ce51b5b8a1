import type { Redis } from 'ioredis';
import { createDoorFlowClient, type DoorFlowClient } from '../lib/doorflow/client.ts';
import { createRedis, type EmbeddedRedis, type RedisRole, startEmbeddedRedis } from '../lib/core/redis.ts';
import { RedisKeys } from '../lib/store/keys.ts';
import type { Runtime } from './runtime.ts';

/**
 * Composition root: the connections (Redis, DoorFlow) a command opens, each closing with its
 * runtime. Config and the runtime itself are in runtime.ts.
 */
export { buildConfig, buildRuntime, type Runtime } from './runtime.ts';

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
    keys: new RedisKeys(runtime.config.queuePrefix),
    logger: runtime.logger.child({ component: 'doorflow' }),
    encryptionKey: runtime.config.encryptionKey,
  });
  runtime.onClose(() => client.close());
  return client;
}
