import type { RedisConnection } from '../../src/lib/core/redis.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeadLetterStore } from '../../src/lib/store/dead-letters.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { RunStore } from '../../src/lib/store/runs.ts';
import { deletePrefix, testRedis, uniquePrefix } from '../helpers/redis.ts';

describe('run records', () => {
  let redis: RedisConnection;
  let prefix: string;
  let runs: RunStore;
  beforeEach(() => {
    redis = testRedis();
    prefix = uniquePrefix('runs');
    runs = new RunStore(redis, new RedisKeys(prefix));
  });
  afterEach(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('moves entries only forward, counts exactly, and finishes when intake is closed and all settled', async () => {
    const id = await runs.create({ source: 't', delivery: 'webhook' });
    expect(await runs.addEntry(id, 'a', 'person')).toBe(true);
    expect(await runs.addEntry(id, 'a', 'person')).toBe(false);
    expect(await runs.addEntry(id, 'b', 'person')).toBe(true);
    expect(await runs.move(id, 'a', 'credential')).toBe(true);
    expect(await runs.move(id, 'a', 'invitation')).toBe(true);
    // A duplicated (crash-recovered) person job finishing late cannot move it back.
    expect(await runs.move(id, 'a', 'credential')).toBe(false);
    // A stale failure of an earlier step cannot kill an entry that moved on.
    expect(await runs.move(id, 'a', 'dead:credential')).toBe(false);
    expect(await runs.move(id, 'a', 'provisioned')).toBe(true);
    expect(await runs.move(id, 'b', 'dead:person', { code: 'forbidden' })).toBe(true);
    let run = await runs.get(id);
    expect(run?.finishedAt).toBeUndefined(); // intake still open
    expect(await runs.closeIntake(id)).toBe(true);
    run = await runs.get(id);
    expect(run).toMatchObject({ total: 2, dead: 1, counts: { provisioned: 1, 'dead:person': 1, person: 0 } });
    expect(run?.done).toMatchObject({ person: 1, credential: 1, invitation: 1 });
    expect(run?.finishedAt).toBeGreaterThan(0);
    // Replay reopens the run; success after replay finishes it again.
    expect(await runs.reopen(id, 'b', 'person')).toBe(true);
    expect((await runs.get(id))?.finishedAt).toBeUndefined();
    expect(await runs.move(id, 'b', 'already_provisioned')).toBe(true);
    run = await runs.get(id);
    expect(run).toMatchObject({ dead: 0, counts: { already_provisioned: 1 } });
    expect(run?.finishedAt).toBeGreaterThan(0);
    expect((await runs.list()).map((r) => r.id)).toEqual([id]);
  });

  it('dead letters: repeated failures keep the first time and add attempts; purge by age and run', async () => {
    let now = 1_000_000;
    const store = new DeadLetterStore(redis, new RedisKeys(prefix), { now: () => now });
    const input = {
      queue: 'credential' as const,
      runId: 'r1',
      key: 'sid:1',
      jobId: 'j',
      code: 'server_error',
      message: 'm',
      attempts: 3,
      payload: { runId: 'r1', key: 'sid:1', encryptedCode: 'secret' },
    };
    const first = await store.store(input);
    now += 5_000;
    const second = await store.store(input);
    expect(second.id).toBe(first.id);
    expect(second).toMatchObject({ attempts: 6, firstFailedAt: 1_000_000, lastFailedAt: 1_005_000 });
    expect(second.payload).not.toHaveProperty('encryptedCode');
    await store.store({ ...input, runId: 'r2' });
    expect(await store.list({ runId: 'r2' })).toHaveLength(1);
    now += 60_000;
    expect(await store.purge({ olderThanMs: 30_000, runId: 'r1' })).toBe(1);
    expect(await store.count()).toBe(1);
  });
});
