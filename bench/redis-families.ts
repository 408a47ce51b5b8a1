import type { RedisConnection as Redis } from '../src/lib/core/redis.ts';
import type { RedisKeys } from '../src/lib/store/keys.ts';
import { round } from './common.ts';

/**
 * Where a run's waiting entries sit in Redis, per key family: each run-record key measured whole
 * (`MEMORY USAGE … SAMPLES 0`), BullMQ's share as the rest of `used_memory`'s growth (job hashes,
 * the wait list, the event stream). Taking the queue's share out tells what the run record costs
 * on its own, whatever job form carries the entries.
 */

export interface FamilyBytes {
  /** `used_memory` growth per entry. */
  total: number;
  /** Run-record key → bytes per entry (`status`, `entries`, `names`, `index`, …). */
  run: Record<string, number>;
  /** The run record's keys together, per entry. */
  runTotal: number;
  /** What is left: BullMQ's job hashes, wait list and events, per entry. */
  queue: number;
  /** A sample of waiting job hashes (batch jobs, else person jobs), mean `MEMORY USAGE` of one. */
  jobHash: number;
}

export async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
}

export async function familyBytes(
  redis: Redis,
  keys: RedisKeys,
  runId: string,
  entries: number,
  grownBy: number,
): Promise<FamilyBytes> {
  const run: Record<string, number> = {};
  let runTotal = 0;
  for (const key of keys.runKeys(runId)) {
    const bytes = Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
    if (bytes === 0) continue;
    const family = key.slice(keys.run(runId).length + 1) || 'hash';
    run[family] = round(bytes / entries, 1);
    runTotal += bytes;
  }
  // Batch jobs (`provision`) carry the entries unless JOBS_BATCH_SIZE=1 (one `person` job each).
  let queue = 'provision';
  let ids = await redis.lrange(`${keys.prefix}:${queue}:wait`, 0, 199);
  if (ids.length === 0) {
    queue = 'person';
    ids = await redis.lrange(`${keys.prefix}:${queue}:wait`, 0, 199);
  }
  let jobs = 0;
  for (const id of ids)
    jobs += Number((await redis.call('MEMORY', 'USAGE', `${keys.prefix}:${queue}:${id}`)) ?? 0);
  return {
    total: round(grownBy / entries, 0),
    run,
    runTotal: round(runTotal / entries, 0),
    queue: round((grownBy - runTotal) / entries, 0),
    jobHash: ids.length > 0 ? round(jobs / ids.length, 0) : 0,
  };
}

/**
 * `INFO commandstats` as calls per command (`cmdstat_evalsha` → `evalsha`; commands run inside
 * scripts counted under their own names), and Redis CPU in microseconds as `usec:<command>`.
 */
export async function commandCalls(redis: Redis): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await redis.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)) {
    out[m[1] ?? ''] = Number(m[2]);
    out[`usec:${m[1] ?? ''}`] = Number(m[3]);
  }
  return out;
}

/** Calls per entry by command, between two {@link commandCalls} readings, largest first. */
export function callsPerEntry(
  before: Record<string, number>,
  after: Record<string, number>,
  entries: number,
): Record<string, number> {
  const rows = Object.entries(after)
    .map(([cmd, n]) => [cmd, (n - (before[cmd] ?? 0)) / entries] as const)
    .filter(([, n]) => n >= 0.001)
    .sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(rows.map(([cmd, n]) => [cmd, round(n, 3)]));
}
