import type { RedisConnection } from '../../src/lib/core/redis.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/core/clock.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { RunPages } from '../../src/lib/store/run-pages.ts';
import { RunStore } from '../../src/lib/store/runs.ts';
import { deletePrefix, testRedis, uniquePrefix } from '../helpers/redis.ts';

/**
 * `RunStore.addEntries` (a slice of waiting entries in one script call) against `addEntry` one by
 * one plus `setNames`, as intake registered entries before: the same statuses, names, outcome
 * index, groups and counters; no detail kept for a waiting entry, yet its page shows the same line;
 * duplicates in the slice or already in the run left alone; the outstanding count for backpressure.
 */

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);

async function record(redis: RedisConnection, keys: RedisKeys, id: string) {
  const { id: _id, createdAt: _at, ...run } = await redis.hgetall(keys.run(id));
  return {
    run,
    status: await redis.hgetall(keys.runStatus(id)),
    names: await redis.hgetall(keys.runNames(id)),
    index: await redis.zrange(keys.runOutcomeIndex(id), 0, -1, 'WITHSCORES'),
    groups: await redis.hgetall(keys.runOutcomeGroups(id)),
  };
}

describe('run entries registered a slice at a time', () => {
  let redis: RedisConnection;
  let prefix: string;
  let keys: RedisKeys;
  let runs: RunStore;
  beforeAll(() => {
    redis = testRedis();
    prefix = uniquePrefix('bulk');
    keys = new RedisKeys(prefix);
    runs = new RunStore(redis, keys, new ManualClock(NOW));
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  // 1,500 entries: more arguments than one ZADD/HSET call takes inside the script.
  const entries = Array.from({ length: 1500 }, (_, i) => ({
    key: `sid:E${i}`,
    // Every fifth entry has no roster line (an entry fed as an object): it is placed by arrival.
    ...(i % 5 === 4 ? {} : { line: i + 2 }),
    // Every seventh has no name to record.
    name: i % 7 === 6 ? '' : `Fïrst${i} Last${i}`,
  }));

  it('records what addEntry one by one records, without a detail per waiting entry', async () => {
    await runs.create({ source: 'one.csv', delivery: 'webhook', id: 'rONE' });
    for (const e of entries) await runs.addEntry('rONE', e.key, 'person', e.line ? { line: e.line } : {});
    await runs.setNames(
      'rONE',
      Object.fromEntries(entries.filter((e) => e.name).map((e) => [e.key, e.name])),
    );

    await runs.create({ source: 'one.csv', delivery: 'webhook', id: 'rBULK' });
    const { added, outstanding } = await runs.addEntries('rBULK', 'person', entries);
    expect(added).toEqual(entries.map(() => true));
    expect(outstanding).toBe(1500);

    expect(await record(redis, keys, 'rBULK')).toEqual(await record(redis, keys, 'rONE'));
    expect(await redis.exists(keys.runEntries('rBULK'))).toBe(0);
    const bulk = await runs.get('rBULK');
    expect(bulk).toMatchObject({ total: 1500, counts: { person: 1500 } });

    // The views read the same line back (from the index position), and nothing else was kept.
    const pages = new RunPages(redis, keys);
    const one = await pages.page('rONE', 'pending', { limit: 2000 });
    const many = await pages.page('rBULK', 'pending', { limit: 2000 });
    expect(many.entries.map((e) => [e.key, e.status, e.detail, e.position])).toEqual(
      one.entries.map((e) => {
        const { at: _at, ...detail } = e.detail;
        return [e.key, e.status, detail, e.position];
      }),
    );
    expect(many.entries.find((e) => e.key === 'sid:E0')?.detail).toEqual({ line: 2 });
    expect(many.entries.find((e) => e.key === 'sid:E4')?.detail).toEqual({});
  });

  it('leaves keys already in the run, or repeated in the slice, as they were', async () => {
    await runs.create({ source: 'dup.csv', delivery: 'webhook', id: 'rDUP' });
    await runs.addEntries('rDUP', 'person', [{ key: 'sid:A', line: 2, name: 'Ann A' }]);
    await runs.move('rDUP', 'sid:A', 'credential', { personId: 7 });
    const before = await record(redis, keys, 'rDUP');
    const { added, outstanding } = await runs.addEntries('rDUP', 'person', [
      { key: 'sid:A', line: 9, name: 'Someone Else' },
      { key: 'sid:B', line: 3, name: 'Bo B' },
      { key: 'sid:B', line: 4, name: 'Bo Again' },
    ]);
    expect(added).toEqual([false, true, false]);
    expect(outstanding).toBe(2);
    const after = await record(redis, keys, 'rDUP');
    expect(after.status).toEqual({ 'sid:A': 'credential', 'sid:B': 'person' });
    expect(after.names).toEqual({ ...before.names, 'sid:B': 'Bo B' });
    expect(after.run).toMatchObject({ total: '2', 'count:person': '1', 'count:credential': '1' });
    // A moved entry has its own detail again; the views show it, not a line.
    const page = await new RunPages(redis, keys).page('rDUP', 'pending', { limit: 10 });
    expect(page.entries.map((e) => [e.key, e.detail])).toEqual([
      ['sid:A', { personId: 7, at: NOW }],
      ['sid:B', { line: 3 }],
    ]);
  });

  it('counts outstanding entries as backpressure does: settled ones are out', async () => {
    await runs.create({ source: 'w.csv', delivery: 'webhook', id: 'rWIN' });
    await runs.addEntries('rWIN', 'person', [{ key: 'sid:1' }, { key: 'sid:2' }, { key: 'sid:3' }]);
    await runs.move('rWIN', 'sid:1', 'provisioned', { personId: 1, credentialId: 'c1' });
    await runs.move('rWIN', 'sid:2', 'dead:person', { code: 'boom' });
    await runs.addEntry('rWIN', 'sid:4', 'invalid', { code: 'invalid_entry' });
    const { outstanding } = await runs.addEntries('rWIN', 'person', [{ key: 'sid:5' }]);
    expect(outstanding).toBe(2);
    expect(await runs.addEntries('rWIN', 'person', [])).toEqual({ added: [], outstanding: 2 });
  });
});
