import type { RedisConnection } from '../core/redis.ts';
import type { RedisKeys } from './keys.ts';

/**
 * The people this tool created in DoorFlow (`managed` set of person ids). A roster sync offboards
 * only people in this set or in its scope prefix, never someone made by hand.
 */
export class ManagedSet {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
  ) {}

  async add(personId: number): Promise<void> {
    await this.redis.sadd(this.keys.managed, personId);
  }

  async ids(): Promise<Set<number>> {
    return new Set((await this.redis.smembers(this.keys.managed)).map(Number));
  }
}
