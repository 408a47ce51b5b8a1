import { createHash } from 'node:crypto';
import type { RedisConnection } from './redis.ts';

/**
 * A Lua script run with EVALSHA, falling back to EVAL when the server does not know it yet
 * (fresh server, SCRIPT FLUSH, fail-over). Avoids `defineCommand`, which would mutate the shared
 * Redis instance other modules also use.
 */
export interface LuaScript {
  run(redis: RedisConnection, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
}

export function luaScript(source: string): LuaScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    async run(redis, keys, args) {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
        return await redis.eval(source, keys.length, ...keys, ...args);
      }
    },
  };
}

/** Releases a lock only when it still holds our value (never someone else's after expiry). */
export const compareAndDelete = luaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`);

/** Extends a lock's TTL only while it still holds our value. */
export const compareAndExpire = luaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`);
