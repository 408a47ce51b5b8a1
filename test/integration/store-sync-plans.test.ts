import type { RedisConnection } from '../../src/lib/core/redis.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/core/clock.ts';
import { generateKey } from '../../src/lib/core/crypto.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { LicenceStore } from '../../src/lib/store/licences.ts';
import { SyncPlanStore } from '../../src/lib/store/sync-plans.ts';
import { SyncRunStore } from '../../src/lib/store/sync-runs.ts';
import { buildSyncPlan } from '../../src/producers/sync/plan.ts';
import { openPlan, quarantinePlan, rejectPlan } from '../../src/producers/sync/quarantine.ts';
import { deletePrefix, testRedis, uniquePrefix } from '../helpers/redis.ts';

/** The quarantine store and service on a real Redis: sealed at rest, taken once, purged by age. */
describe('quarantined plans in Redis', () => {
  let redis: RedisConnection;
  const prefix = uniquePrefix('plans');
  const keys = new RedisKeys(prefix);
  const clock = new ManualClock(Date.UTC(2026, 11, 1));
  beforeAll(() => {
    redis = testRedis();
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  const plans = () => new SyncPlanStore(redis, keys, clock);
  const leavers = buildSyncPlan({
    roster: [{ key: 'sid:HR-1', system_id: 'HR-1', first_name: 'Kept', last_name: 'One' }],
    people: [1, 2, 3].map((id) => ({
      id,
      system_id: `HR-${id}`,
      first_name: 'Grace',
      last_name: `Hopper${id}`,
      enabled: true,
    })),
    credentials: [],
    hidCredentialTypeId: 8,
    scope: { prefix: 'HR-', managedIds: new Set() },
    sourceComplete: true,
    maxOffboard: { count: 1 },
  });

  it('stores the diff sealed, lists figures only, notifies once and is taken once', async () => {
    const notices: string[] = [];
    const deps = {
      plans: plans(),
      syncRuns: new SyncRunStore(redis, keys),
      encryptionKey: generateKey(),
      clock,
      logger: silentLogger(),
      notify: async (s: { id: string }) => notices.push(s.id),
    };
    expect(leavers.safety.ok).toBe(false);
    const summary = await quarantinePlan(deps, {
      sourceName: 'csv',
      plan: leavers,
      apply: { sourceId: 'csv:/data/staff.csv', delivery: 'webhook', sourceComplete: true },
    });
    expect(notices).toEqual([summary.id]);
    expect(summary.counts).toMatchObject({ offboard: 2, scope: 3 });
    const raw = await redis.get(keys.quarantinedPlan(summary.id));
    expect(raw).not.toContain('Hopper');
    expect(await deps.plans.list()).toEqual([summary]);
    const opened = await openPlan(deps, summary.id);
    expect(opened?.plan.offboard.map((o) => o.name)).toEqual(['Grace Hopper2', 'Grace Hopper3']);
    // Without the key the sealed diff cannot be read.
    await expect(openPlan({ plans: deps.plans, encryptionKey: undefined }, summary.id)).rejects.toThrow(
      /sealed/,
    );

    const who = { actor: 'cli:sync', operator: 'alice@ops-1 (cli)' };
    expect((await rejectPlan(deps, summary.id, who))?.id).toBe(summary.id);
    expect(await rejectPlan(deps, summary.id, who)).toBeUndefined();
    expect(await deps.plans.list()).toEqual([]);
    expect((await deps.syncRuns.history('csv')).map((e) => e.outcome)).toEqual(['rejected', 'quarantined']);
  });

  it('the janitor purges plans past PLAN_RETENTION only', async () => {
    const store = plans();
    const base = {
      sourceName: 'csv',
      sourceId: 'csv',
      refusals: [],
      counts: {
        create: 0,
        update: 0,
        offboard: 0,
        unchanged: 0,
        source: 0,
        scope: 0,
        consume: 0,
        release: 0,
      },
      body: '{}',
      sealed: false,
    };
    await store.put({ ...base, id: 'old', quarantinedAt: clock.now() - 31 * 86_400_000 });
    await store.put({ ...base, id: 'new', quarantinedAt: clock.now() - 86_400_000 });
    expect(await store.purge(30 * 86_400_000, true)).toBe(1);
    expect(await store.purge(30 * 86_400_000)).toBe(1);
    expect((await store.list()).map((p) => p.id)).toEqual(['new']);
    expect(await redis.exists(keys.quarantinedPlan('old'))).toBe(0);
  });

  it('the learned licence limit is only ever raised', async () => {
    const licences = new LicenceStore(redis, keys);
    expect(await licences.learned()).toBeUndefined();
    expect(await licences.learn(100, 1)).toBe(100);
    // Fewer live credentials at a later refusal: some were freed meanwhile, not a lower limit.
    expect(await licences.learn(80, 2)).toBe(100);
    expect(await licences.learnedAt()).toBe(2);
    expect(await licences.learn(150, 3)).toBe(150);
    expect(await licences.learned()).toBe(150);
  });
});
