import type { TestProject } from 'vitest/node';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/lib/core/redis.ts';
import { type LocalCluster, startLocalCluster } from './redis-cluster.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    /** `host:port,…` of the local Redis Cluster when TEST_REDIS=cluster; '' otherwise. */
    redisClusterNodes: string;
  }
}

let redis: EmbeddedRedis | undefined;
let cluster: LocalCluster | undefined;

/**
 * One real redis-server for the whole test run; every test isolates itself with its own key
 * prefix. With TEST_REDIS=cluster, also a real local Redis Cluster that the suite's connections
 * use instead (test/helpers/redis.ts); tests that need one server (CONFIG SET, restarts) keep it.
 */
export async function setup(project: TestProject): Promise<void> {
  const clustered = process.env.TEST_REDIS === 'cluster';
  [redis, cluster] = await Promise.all([startEmbeddedRedis(), clustered ? startLocalCluster() : undefined]);
  project.provide('redisUrl', redis.url);
  project.provide('redisClusterNodes', cluster?.nodes ?? '');
}

export async function teardown(): Promise<void> {
  await Promise.all([redis?.stop(), cluster?.stop()]);
}
