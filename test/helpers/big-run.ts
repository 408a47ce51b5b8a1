import type { RedisConnection } from '../../src/lib/core/redis.ts';
import type { RedisKeys } from '../../src/lib/store/keys.ts';
import type { EntryDetail, RunStore } from '../../src/lib/store/runs.ts';

/**
 * A big run written straight into Redis, as the run store's TRANSITION script would have left it
 * (statuses, details, names, the outcome index and its group numbers, counters, the per-minute
 * series), pipelined 10,000 entries at a time: a million entries in seconds instead of a million
 * script calls. `test/integration/store-run-pages.test.ts` checks a small one byte for byte against
 * the script's own writes, so the shape cannot drift.
 *
 * Entry i (0-based) is `sid:E{i}` on roster line i + 2: every `provisionedEvery`-th is provisioned,
 * every `failedEvery`-th (of the rest) dead at the credential step with `licence_limit`, the others
 * still waiting at the person step (enqueued, no worker ran). Intake is closed.
 */

export interface BigRunOptions {
  id: string;
  entries: number;
  /** 1 in this many is provisioned (0: none). */
  provisionedEvery?: number;
  /** 1 in this many of the others is dead (0: none). */
  failedEvery?: number;
  /** The clock the script would have stamped with. */
  now: number;
}

const SPAN = 2 ** 32;
const BATCH = 10_000;

export type BigRunEntry = { key: string; line: number; status: 'person' | 'provisioned' | 'dead:credential' };

export function bigRunEntry(i: number, options: BigRunOptions): BigRunEntry {
  const key = `sid:E${i}`;
  const line = i + 2;
  const p = options.provisionedEvery ?? 0;
  const f = options.failedEvery ?? 0;
  if (p > 0 && i % p === 0) return { key, line, status: 'provisioned' };
  if (f > 0 && i % f === 1) return { key, line, status: 'dead:credential' };
  return { key, line, status: 'person' };
}

/** The detail the pipeline records for each status (what a move leaves, line dropped). */
export function bigRunDetail(i: number, entry: BigRunEntry, now: number): EntryDetail {
  if (entry.status === 'provisioned')
    return { personId: i + 1, credentialId: `c${i}`, channel: 'webhook', at: now };
  if (entry.status === 'dead:credential')
    return { code: 'licence_limit', message: 'licence limit reached', step: 'credential', at: now };
  return { line: entry.line, at: now };
}

export async function writeBigRun(
  redis: RedisConnection,
  keys: RedisKeys,
  runs: RunStore,
  options: BigRunOptions,
): Promise<void> {
  const id = await runs.create({ source: 'big.csv', delivery: 'webhook', id: options.id });
  const counts = { person: 0, provisioned: 0, 'dead:credential': 0 };
  // Group numbers in the order the script gives them: every entry is added pending first, then
  // the provisioned ones move, then the dead ones.
  const groups: Record<string, number> = { pending: 1 };
  const minute = Math.floor(options.now / 60_000);
  for (let start = 0; start < options.entries; start += BATCH) {
    const batch = redis.pipeline();
    const end = Math.min(options.entries, start + BATCH);
    const statuses: string[] = [];
    const details: string[] = [];
    const names: string[] = [];
    const index: (string | number)[] = [];
    for (let i = start; i < end; i++) {
      const entry = bigRunEntry(i, options);
      counts[entry.status]++;
      statuses.push(entry.key, entry.status);
      details.push(entry.key, JSON.stringify(bigRunDetail(i, entry, options.now)));
      names.push(entry.key, `First${i} Last${i}`);
      index.push(groupOf(entry.status, groups, options) * SPAN + entry.line, entry.key);
    }
    batch.hset(keys.runStatus(id), ...statuses);
    batch.hset(keys.runEntries(id), ...details);
    batch.hset(keys.runNames(id), ...names);
    batch.zadd(keys.runOutcomeIndex(id), ...index);
    await batch.exec();
  }
  const meta: Record<string, number | string> = {
    total: options.entries,
    intake: 'closed',
    dead: counts['dead:credential'],
  };
  for (const [status, n] of Object.entries(counts))
    if (n > 0 || status === 'person') meta[`count:${status}`] = n;
  if (counts.provisioned > 0) meta['done:person'] = counts.provisioned;
  if (counts['dead:credential'] > 0) meta['fail:licence_limit'] = counts['dead:credential'];
  await runs.setMeta(id, meta);
  const series: Record<string, number> = {};
  if (counts.provisioned > 0) series[`${minute}|provisioned`] = counts.provisioned;
  if (counts['dead:credential'] > 0) series[`${minute}|fail|licence_limit`] = counts['dead:credential'];
  if (Object.keys(series).length > 0) await redis.hset(keys.runSeries(id), series);
  const numbered = Object.entries(groups);
  await redis.hset(keys.runOutcomeGroups(id), { ...groups, '#': numbered.length });
}

/** The group number of a status, given in the script's order (pending, provisioned, failed). */
function groupOf(
  status: BigRunEntry['status'],
  groups: Record<string, number>,
  options: BigRunOptions,
): number {
  // Numbers are fixed up front so every batch agrees: the script numbers groups as moves reach them.
  if (!groups.provisioned && (options.provisionedEvery ?? 0) > 0) groups.provisioned = 2;
  if (!groups.failed && (options.failedEvery ?? 0) > 0) groups.failed = (groups.provisioned ? 1 : 0) + 2;
  if (status === 'provisioned') return groups.provisioned ?? 0;
  if (status === 'dead:credential') return groups.failed ?? 0;
  return groups.pending ?? 1;
}
