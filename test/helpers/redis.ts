import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { inject } from 'vitest';
import type { Env } from '../../src/lib/core/config.ts';
import { mastersOf, type RedisConnection, type RedisTarget } from '../../src/lib/core/redis.ts';

/** The test run's single redis-server (started by global-setup), whatever TEST_REDIS says. */
export function testRedisUrl(): string {
  return inject('redisUrl');
}

/** The local Redis Cluster's nodes (`host:port,…`) when the run has one (TEST_REDIS=cluster). */
function clusterNodes(): string {
  return inject('redisClusterNodes');
}

function parseNodes(nodes: string): { host: string; port: number }[] {
  return nodes.split(',').map((n) => {
    const [host = '127.0.0.1', port = '0'] = n.split(':');
    return { host, port: Number(port) };
  });
}

/** Where the suite's pipelines connect: the cluster under TEST_REDIS=cluster, the one server otherwise. */
export function testRedisTarget(): RedisTarget {
  const nodes = clusterNodes();
  return nodes ? { nodes: parseNodes(nodes), password: undefined, tls: false } : testRedisUrl();
}

/** The environment naming {@link testRedisTarget} (REDIS_CLUSTER_NODES or REDIS_URL), for configs and child processes. */
export function testRedisEnv(): Env {
  const nodes = clusterNodes();
  return nodes ? { REDIS_CLUSTER_NODES: nodes } : { REDIS_URL: testRedisUrl() };
}

/** A unique, hash-tagged queue/key prefix for one test, so tests never share queues. */
export function uniquePrefix(label = 't'): string {
  return `{${label}-${randomUUID().slice(0, 8)}}`;
}

/** A connection for assertions (a Cluster client under TEST_REDIS=cluster); remember to `quit()` it. */
export function testRedis(): RedisConnection {
  const nodes = clusterNodes();
  if (nodes) return new Cluster(parseNodes(nodes), { redisOptions: { maxRetriesPerRequest: null } });
  return new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
}

/** Deletes every key under a prefix (on a cluster, SCAN runs on every master: a key lives on one). */
export async function deletePrefix(redis: RedisConnection, prefix: string): Promise<void> {
  for (const node of await mastersOf(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      // Straight to the node that holds them, one key per command: no two need share a slot.
      const batch = node.pipeline();
      for (const key of keys) batch.unlink(key);
      if (keys.length > 0) await batch.exec();
    } while (cursor !== '0');
  }
}
