import type { RedisConnection } from '../core/redis.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import type { RedisKeys } from './keys.ts';

/**
 * Who paused the fleet's pipeline and when (`pipeline:pause` hash), for `runs show`, `/admin/runs`
 * and the audit trail. The pause itself is BullMQ's queue pause (processors/services/
 * pipeline-pause.ts); this record only says who asked for it.
 */

export interface PauseRecord {
  since: number;
  by: string;
}

export class PipelinePauseStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Records the pause; a second pause keeps the first one's time and operator. */
  async set(by: string): Promise<PauseRecord> {
    const key = this.keys.pipelinePause;
    await this.redis.hsetnx(key, 'since', String(this.clock.now()));
    await this.redis.hsetnx(key, 'by', by);
    return (await this.get()) ?? { since: this.clock.now(), by };
  }

  async clear(): Promise<void> {
    await this.redis.del(this.keys.pipelinePause);
  }

  async get(): Promise<PauseRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.pipelinePause);
    if (!h.since) return undefined;
    return { since: Number(h.since), by: h.by ?? '' };
  }
}
