import type { RedisConnection } from '../core/redis.ts';
import type { RedisKeys } from './keys.ts';

/**
 * The HID licence limit learned from DoorFlow, for accounts without HID_LICENCE_LIMIT: at the
 * first `limit_reached`, the live HID credentials counted then are the limit (DoorFlow tells no
 * number). A later `limit_reached` only ever raises it (the account bought more licences; a lower
 * count means some were freed meanwhile). One small hash per account.
 */
export class LicenceStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
  ) {}

  /** Records the limit unless a higher one was learned; returns the limit in force. */
  async learn(limit: number, at: number): Promise<number> {
    const known = await this.learned();
    if (known !== undefined && known >= limit) {
      await this.redis.hset(this.keys.learnedLicenceLimit, 'at', at);
      return known;
    }
    await this.redis.hset(this.keys.learnedLicenceLimit, { limit, at });
    return limit;
  }

  async learned(): Promise<number | undefined> {
    const limit = await this.redis.hget(this.keys.learnedLicenceLimit, 'limit');
    return limit === null ? undefined : Number(limit);
  }

  /** When the limit was last learned or confirmed (ms), if ever. */
  async learnedAt(): Promise<number | undefined> {
    const at = await this.redis.hget(this.keys.learnedLicenceLimit, 'at');
    return at === null ? undefined : Number(at);
  }
}
