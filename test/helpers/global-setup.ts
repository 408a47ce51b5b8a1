import type { TestProject } from 'vitest/node';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/lib/core/redis.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let redis: EmbeddedRedis | undefined;

/** One real redis-server for the whole test run; every test isolates itself with its own key prefix. */
export async function setup(project: TestProject): Promise<void> {
  redis = await startEmbeddedRedis();
  project.provide('redisUrl', redis.url);
}

export async function teardown(): Promise<void> {
  await redis?.stop();
}
