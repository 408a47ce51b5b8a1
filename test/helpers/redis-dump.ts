import { nodeFor, type RedisConnection } from '../../src/lib/core/redis.ts';

/** Every key under `prefix`, every value of every type, as text (for scans that must find no secret). */
export async function dumpRedis(
  redis: RedisConnection,
  prefix: string,
): Promise<{ keys: number; text: string }> {
  const parts: string[] = [];
  let cursor = '0';
  let keys = 0;
  // Every key under a hash-tagged prefix lives on the master of its slot: SCAN there.
  const node = await nodeFor(redis, prefix);
  do {
    const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    for (const key of batch) {
      keys++;
      const type = await redis.type(key);
      parts.push(key);
      if (type === 'string') parts.push((await redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES')));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
      else parts.push(`<${type}>`);
    }
  } while (cursor !== '0');
  return { keys, text: parts.join('\n') };
}
