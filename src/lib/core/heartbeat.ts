import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from './logger.ts';

/**
 * Worker liveness for `/readyz`. Each worker process refreshes its member in the sorted set
 * `${prefix}:workers` (score = last beat, ms) every `intervalMs`; readers count members seen within
 * `staleAfterMs`. A sorted set needs no SCAN and forgets a SIGKILLed worker by itself.
 */

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5_000;
export const DEFAULT_HEARTBEAT_STALE_MS = 20_000;

export function heartbeatKey(prefix: string): string {
  return `${prefix}:workers`;
}

/** A readable id for this process: `host:pid`. */
export function workerId(): string {
  return `${hostname()}:${process.pid}`;
}

export interface Heartbeat {
  readonly id: string;
  /** Removes this worker's member so readiness drops at once on a clean shutdown. */
  stop(): Promise<void>;
}

/** Starts beating at once and then every `intervalMs`. */
export async function startHeartbeat(options: {
  redis: Redis;
  prefix: string;
  id?: string;
  intervalMs?: number;
  logger?: Logger;
}): Promise<Heartbeat> {
  const key = heartbeatKey(options.prefix);
  const id = options.id ?? workerId();
  const beat = async () => {
    await options.redis.zadd(key, Date.now(), id);
  };
  await beat();
  const timer = setInterval(() => {
    beat().catch((err: unknown) => options.logger?.warn({ err }, 'worker heartbeat failed'));
  }, options.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return {
    id,
    async stop() {
      clearInterval(timer);
      await options.redis.zrem(key, id).catch(() => undefined);
    },
  };
}

/** Ids of workers that beat within `staleAfterMs`; older members are pruned on the way. */
export async function liveWorkers(
  redis: Redis,
  prefix: string,
  staleAfterMs = DEFAULT_HEARTBEAT_STALE_MS,
): Promise<string[]> {
  const key = heartbeatKey(prefix);
  const cutoff = Date.now() - staleAfterMs;
  await redis.zremrangebyscore(key, '-inf', `(${cutoff}`);
  return await redis.zrangebyscore(key, cutoff, '+inf');
}
