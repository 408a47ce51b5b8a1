import type { RedisConnection } from '../core/redis.ts';
import { DEFAULT_HEARTBEAT_STALE_MS } from '../core/heartbeat.ts';
import type { RedisKeys } from './keys.ts';

/**
 * Worker liveness (`workers` sorted set: worker id → last beat, ms). A sorted set needs no SCAN
 * and forgets a SIGKILLed worker by itself. Times are wall-clock ms: liveness compares processes,
 * so the lifecycle clock has no say here.
 */
export class WorkerStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
  ) {}

  async beat(id: string, atMs: number): Promise<void> {
    await this.redis.zadd(this.keys.workers, atMs, id);
  }

  async leave(id: string): Promise<void> {
    await this.redis.zrem(this.keys.workers, id);
  }

  /** Ids of workers that beat within `staleAfterMs`; older members are pruned on the way. */
  async live(staleAfterMs = DEFAULT_HEARTBEAT_STALE_MS, nowMs = Date.now()): Promise<string[]> {
    const cutoff = nowMs - staleAfterMs;
    await this.redis.zremrangebyscore(this.keys.workers, '-inf', `(${cutoff}`);
    return await this.redis.zrangebyscore(this.keys.workers, cutoff, '+inf');
  }
}
