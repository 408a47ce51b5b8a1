import fc from 'fast-check';
import type { RedisConnection } from '../../src/lib/core/redis.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BudgetWaitEvent, budgetKeysOf, createBudget } from '../../src/lib/doorflow/budget.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { DoorFlowError } from '../../src/lib/core/errors.ts';
import { deletePrefix, testRedis, uniquePrefix } from '../helpers/redis.ts';

/** The budget on its own, in one process, against the real redis-server. */

let redis: RedisConnection;
let prefix: string;

beforeEach(() => {
  redis = testRedis();
  prefix = uniquePrefix('budget');
});

afterEach(async () => {
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('fleet request budget', () => {
  it('spaces grants evenly instead of bursting, and reports the waits', async () => {
    const waits: BudgetWaitEvent[] = [];
    const budget = createBudget({
      redis,
      keys: budgetKeysOf(new RedisKeys(prefix)),
      ratePerSec: 10,
      maxInFlight: 20,
      onWait: (e) => waits.push(e),
    });
    const grantedAt: number[] = [];
    await Promise.all(
      Array.from({ length: 12 }, () =>
        budget.run(async () => {
          grantedAt.push(performance.now());
        }),
      ),
    );
    grantedAt.sort((a, b) => a - b);
    const gaps = grantedAt.slice(1).map((t, i) => t - (grantedAt[i] as number));
    // 10/s with 4 % headroom: one grant every ~104 ms (a stalled event loop may bunch a pair, so
    // look at the median); the sliding log alone already forbids 11 grants within one second.
    const median = [...gaps].sort((x, y) => x - y)[Math.floor(gaps.length / 2)] as number;
    expect(median).toBeGreaterThan(80);
    expect((grantedAt.at(-1) as number) - (grantedAt[0] as number)).toBeGreaterThan(900);
    expect(budget.stats()).toMatchObject({ granted: 12, waited: 11 });
    // One event per grant that waited; the schedule (or the minimum gap behind it) was the cause.
    expect(waits).toHaveLength(11);
    expect(waits.every((w) => w.reason === 'rate' || w.reason === 'window')).toBe(true);
  });

  it('caps in-flight requests per process', async () => {
    const budget = createBudget({
      redis,
      keys: budgetKeysOf(new RedisKeys(prefix)),
      ratePerSec: 1000,
      maxInFlight: 3,
    });
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        budget.run(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, 20));
          active--;
        }),
      ),
    );
    expect(peak).toBe(3);
  });

  it('a pause keeps the longer of two pauses and holds back every grant', async () => {
    const a = createBudget({
      redis,
      keys: budgetKeysOf(new RedisKeys(prefix)),
      ratePerSec: 100,
      maxInFlight: 4,
    });
    const b = createBudget({
      redis,
      keys: budgetKeysOf(new RedisKeys(prefix)),
      ratePerSec: 100,
      maxInFlight: 4,
    });
    await a.pause(600);
    await b.pause(100);
    expect(await b.pausedForMs()).toBeGreaterThan(400);
    const started = performance.now();
    await b.acquire();
    expect(performance.now() - started).toBeGreaterThanOrEqual(500);
  });

  it('a late send moves its entry in the sliding log', async () => {
    const budget = createBudget({
      redis,
      keys: budgetKeysOf(new RedisKeys(prefix)),
      ratePerSec: 5,
      maxInFlight: 1,
    });
    const grant = await budget.acquire();
    const before = Number(await redis.zscore(`${prefix}:budget:log`, grant.member));
    expect(before).toBeGreaterThan(0);
    budget.settle(grant, grant.committedAt + 250);
    // settle() does not wait for Redis: poll until the entry has moved.
    let after = before;
    for (let i = 0; i < 100 && after === before; i++) {
      await new Promise((r) => setTimeout(r, 20));
      after = Number(await redis.zscore(`${prefix}:budget:log`, grant.member));
    }
    expect(after - before).toBe(250_000);
  });

  it('an aborted wait rejects at once with a retryable aborted error', async () => {
    const budget = createBudget({
      redis,
      keys: budgetKeysOf(new RedisKeys(prefix)),
      ratePerSec: 1,
      maxInFlight: 1,
    });
    await budget.pause(5_000);
    const controller = new AbortController();
    const pending = budget.run(async () => 'never', controller.signal);
    setTimeout(() => controller.abort(), 100);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DoorFlowError);
    expect(err).toMatchObject({ code: 'aborted', retryable: true });
  });

  it('books requests waiting together in one round trip; two processes in random bursts never exceed R in any second', async () => {
    const rate = 100;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ size: fc.integer({ min: 1, max: 25 }), gapMs: fc.integer({ min: 0, max: 60 }) }),
          {
            minLength: 2,
            maxLength: 5,
          },
        ),
        async (bursts) => {
          const keys = budgetKeysOf(new RedisKeys(uniquePrefix('budget-prop')));
          const fleet = [0, 1].map(() => createBudget({ redis, keys, ratePerSec: rate, maxInFlight: 40 }));
          const runs: Promise<unknown>[] = [];
          for (const [i, burst] of bursts.entries()) {
            const budget = fleet[i % 2] as (typeof fleet)[number];
            for (let n = 0; n < burst.size; n++) runs.push(budget.run(async () => undefined));
            await new Promise((r) => setTimeout(r, burst.gapMs));
          }
          await Promise.all(runs);
          const total = bursts.reduce((a, b) => a + b.size, 0);
          const stats = fleet.map((b) => b.stats());
          expect(stats.reduce((a, s) => a + s.granted, 0)).toBe(total);
          // A burst of n waits for its slots together: fewer bookings than grants.
          const bookings = stats.reduce((a, s) => a + s.bookings, 0);
          if (bursts.some((b) => b.size > 1)) expect(bookings).toBeLessThan(total);
          // Every commit, in Redis time (µs): at most R in any sliding second.
          const log = await redis.zrange(keys.log, 0, -1, 'WITHSCORES');
          const times = log.filter((_, j) => j % 2 === 1).map(Number);
          expect(times).toHaveLength(total);
          times.sort((a, b) => a - b);
          let head = 0;
          for (let j = 0; j < times.length; j++) {
            while ((times[head] as number) <= (times[j] as number) - 1_000_000) head++;
            expect(j - head + 1).toBeLessThanOrEqual(rate);
          }
          await redis.del(keys.tat, keys.log, keys.pause, keys.last);
        },
      ),
      { numRuns: 4 },
    );
  });
});
