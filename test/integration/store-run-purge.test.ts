import type { RedisConnection } from '../../src/lib/core/redis.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/core/clock.ts';
import { DeadLetterStore } from '../../src/lib/store/dead-letters.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { RunPurger } from '../../src/lib/store/run-purge.ts';
import { RunStore } from '../../src/lib/store/runs.ts';
import { deletePrefix, testRedis, uniquePrefix } from '../helpers/redis.ts';

/**
 * Purging a big run does not block Redis: a 200,000-entry finished run (statuses, details, names)
 * goes while another connection PINGs every few milliseconds; no PING waits long. And a run
 * reopened between the read and the removal (a dead-letter replay) is left whole.
 */

const DAY = 86_400_000;
const ENTRIES = 200_000;

describe('run purge at size', () => {
  let redis: RedisConnection;
  let probe: RedisConnection;
  let prefix: string;

  beforeAll(async () => {
    redis = testRedis();
    probe = testRedis();
    prefix = uniquePrefix('bigpurge');
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
    await probe.quit();
  });

  it('removes a 200,000-entry run without blocking other clients', async () => {
    const keys = new RedisKeys(prefix);
    const clock = new ManualClock(Date.now() - 40 * DAY);
    const runs = new RunStore(redis, keys, clock);
    const id = await runs.create({ source: 'csv', delivery: 'webhook', id: 'rBIG' });
    // The entries written straight into the run's hashes (what a million-row onboarding leaves).
    for (let start = 0; start < ENTRIES; start += 10_000) {
      const batch = redis.pipeline();
      for (let i = start; i < start + 10_000; i++) {
        batch.hset(keys.runStatus(id), `sid:E${i}`, 'provisioned');
        batch.hset(keys.runEntries(id), `sid:E${i}`, `{"personId":${i},"credentialId":"c${i}","at":1}`);
        batch.hset(keys.runNames(id), `sid:E${i}`, `First${i} Last${i}`);
        // The outcome index the TRANSITION script keeps (group 1 = provisioned here).
        batch.zadd(keys.runOutcomeIndex(id), 2 ** 32 + i + 2, `sid:E${i}`);
      }
      await batch.exec();
    }
    await runs.setMeta(id, { total: ENTRIES, [`count:provisioned`]: ENTRIES, intake: 'closed' });
    await redis.hset(keys.runOutcomeGroups(id), { provisioned: 1, '#': 1 });
    await redis.hset(keys.runSeries(id), { '29000000|provisioned': ENTRIES });
    await runs.checkFinished(id);
    expect((await runs.get(id))?.finishedAt).toBeDefined();
    for (const key of [keys.runOutcomeIndex(id), keys.runOutcomeGroups(id), keys.runSeries(id)])
      expect(await redis.exists(key), key).toBe(1);

    clock.set(Date.now());
    const purger = new RunPurger(redis, keys, runs, new DeadLetterStore(redis, keys, clock), clock);
    let worstPingMs = 0;
    let pings = 0;
    let purging = true;
    const pinger = (async () => {
      while (purging) {
        const t0 = performance.now();
        await probe.ping();
        worstPingMs = Math.max(worstPingMs, performance.now() - t0);
        pings++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const summary = await purger.purge({ olderThanMs: 30 * DAY, deadLetterRetentionMs: 30 * DAY });
    // A few more pings while Redis frees the hashes in its background thread.
    await new Promise((r) => setTimeout(r, 300));
    purging = false;
    await pinger;

    expect(summary).toMatchObject({ runs: 1, entries: ENTRIES, runIds: ['rBIG'] });
    expect(summary.bytes).toBeGreaterThan(ENTRIES * 30);
    for (const key of keys.runKeys(id)) expect(await redis.exists(key), key).toBe(0);
    expect(await redis.zscore(keys.runs, id)).toBeNull();
    expect(pings).toBeGreaterThan(10);
    // DEL of these hashes would hold Redis for hundreds of ms; UNLINK frees them in the background.
    // The bound leaves headroom for a loaded 2-core machine.
    expect(worstPingMs).toBeLessThan(150);
  }, 120_000);

  it('leaves a run alone that was reopened after it was read', async () => {
    const keys = new RedisKeys(prefix);
    const clock = new ManualClock(Date.now() - 40 * DAY);
    const runs = new RunStore(redis, keys, clock);
    const id = await runs.create({ source: 'csv', delivery: 'webhook', id: 'rREOPENED' });
    await runs.addEntry(id, 'sid:A', 'person');
    await runs.move(id, 'sid:A', 'dead:person', { code: 'server_error' });
    await runs.closeIntake(id);
    clock.set(Date.now());
    // A replay between the purge's read and its removal: the run hash the script sees is no longer finished.
    const racing: RunStore = Object.create(runs, {
      get: {
        value: async (runId: string) => {
          const record = await runs.get(runId);
          await runs.reopen(runId, 'sid:A', 'person');
          return record;
        },
      },
    });
    const purger = new RunPurger(redis, keys, racing, new DeadLetterStore(redis, keys, clock), clock);
    const summary = await purger.purge({ olderThanMs: 30 * DAY, deadLetterRetentionMs: 0 });
    expect(summary.runs).toBe(0);
    expect(await runs.entryStatus(id, 'sid:A')).toBe('person');
    expect(await redis.zscore(keys.runs, id)).not.toBeNull();
  }, 30_000);
});
