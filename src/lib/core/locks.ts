import type { RedisConnection } from './redis.ts';
import { luaScript } from './lua.ts';

/**
 * Short per-resource locks (person per roster key, credential per person, delivery per
 * credential+channel) so two runs working on the same person at once never both create.
 * The owner is the BullMQ job id: when a crashed job is recovered (BullMQ guarantees one active copy
 * of a job), it takes its own lock back at once instead of waiting for the TTL.
 */

const ACQUIRE = luaScript(`
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`);

const RELEASE = luaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** Tries to take `key` for `owner`; resolves to a release function, or undefined when held by another. */
export async function tryLock(
  redis: RedisConnection,
  key: string,
  owner: string,
  ttlMs: number,
): Promise<(() => Promise<void>) | undefined> {
  const ok = Number(await ACQUIRE.run(redis, [key], [owner, ttlMs])) === 1;
  if (!ok) return undefined;
  return async () => {
    await RELEASE.run(redis, [key], [owner]);
  };
}
