import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.ts';

/**
 * The HID licence limit learned from DoorFlow, for accounts without HID_LICENCE_LIMIT: at the
 * first `limit_reached`, the live HID credentials counted then are the limit (DoorFlow tells no
 * number). Kept once (`HSETNX`): a later refusal does not lower it because some licences were
 * freed meanwhile. One small hash per account.
 */
export class LicenceStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /** Records the limit unless one was learned already; returns the limit in force. */
  async learn(limit: number, at: number): Promise<number> {
    const key = this.keys.learnedLicenceLimit;
    await this.redis.multi().hsetnx(key, 'limit', limit).hsetnx(key, 'at', at).exec();
    return (await this.learned()) ?? limit;
  }

  async learned(): Promise<number | undefined> {
    const limit = await this.redis.hget(this.keys.learnedLicenceLimit, 'limit');
    return limit === null ? undefined : Number(limit);
  }
}
