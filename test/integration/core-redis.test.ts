import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/core/logger.ts';
import { checkEvictionPolicy, createRedis, startEmbeddedRedis } from '../../src/lib/core/redis.ts';
import { testRedisUrl } from '../helpers/redis.ts';

describe('redis', () => {
  it('the test redis-server is real and set to noeviction', async () => {
    const redis = createRedis(testRedisUrl(), 'producer');
    const logger = createLogger({ level: 'warn', destination: new Writable({ write: (_c, _e, d) => d() }) });
    expect(await redis.ping()).toBe('PONG');
    expect(await checkEvictionPolicy(redis, logger)).toBe('noeviction');
    await redis.quit();
  });

  it('warns loudly when maxmemory-policy would evict keys', async () => {
    const embedded = await startEmbeddedRedis();
    const lines: string[] = [];
    const logger = createLogger({
      level: 'warn',
      destination: new Writable({
        write(chunk, _e, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    });
    const redis = createRedis(embedded.url, 'producer');
    await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
    expect(await checkEvictionPolicy(redis, logger)).toBe('allkeys-lru');
    expect(lines.join('')).toContain('noeviction');
    await redis.quit();
    await embedded.stop();
  });

  it('an embedded server restarts from its AOF with its data', async () => {
    const first = await startEmbeddedRedis({ appendOnly: true, keepDir: true });
    const redis = createRedis(first.url, 'producer');
    await redis.set('k', 'v');
    await new Promise((r) => setTimeout(r, 1200)); // appendfsync everysec
    await redis.quit();
    first.process.kill('SIGKILL');
    await new Promise((r) => first.process.once('exit', r));
    const second = await startEmbeddedRedis({ appendOnly: true, dir: first.dir, port: first.port });
    const again = createRedis(second.url, 'producer');
    expect(await again.get('k')).toBe('v');
    await again.quit();
    await second.stop();
  });
});
