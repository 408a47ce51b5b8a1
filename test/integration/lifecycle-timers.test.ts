import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/core/clock.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { LifecycleTimerStore, type TimerSpec } from '../../src/lib/store/lifecycle-timers.ts';
import { recordAndSchedule, startTracking } from '../../src/processors/lifecycle/schedule.ts';
import { fireDueTimers, type TimerFiringDeps } from '../../src/processors/lifecycle/timers.ts';
import { lifecycleDeps } from '../../src/processors/lifecycle/track.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';
import { testRedis } from '../helpers/redis.ts';

const DAY = 86_400_000;
const MIN = 60_000;

/**
 * Issue 16: the lifecycle timers in one due-time index (store/lifecycle-timers.ts) fired by one
 * scheduler (processors/lifecycle/timers.ts), on a real Redis and real BullMQ queues.
 */
describe('lifecycle timers in one due-time index', () => {
  let h: Harness | undefined;
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    await h?.close();
    h = undefined;
  });

  async function setup(env: Record<string, string> = {}) {
    h = await startHarness({
      env: { REMINDER_AFTER: '3d', REMINDER_MAX: '2', INVITATION_TTL: '7d', ...env },
    });
    const clock = new ManualClock(Date.UTC(2027, 0, 4, 9));
    const deps = { ...lifecycleDeps({ ...h.pipeline.processorDeps(), clock }) };
    const firing: TimerFiringDeps = {
      timers: deps.timers,
      queues: deps.queues,
      clock,
      logger: silentLogger(),
    };
    return { h, clock, deps, firing, store: deps.timers };
  }

  const poll = (id: string, dueAt: number): TimerSpec => ({
    id: `poll--${id}--1--0`,
    queue: 'status-poll',
    dueAt,
    data: { credentialId: id, personId: 1, since: 1, n: 0, dueAt },
  });

  it('tracking an invitation sets its timers in the index, not as delayed jobs; scheduling twice keeps one of each', async () => {
    const { clock, deps, store } = await setup();
    const t = { credentialId: 'c1', personId: 7, channel: 'email', encryptedCode: 'sealed' };
    await startTracking(deps, t);
    await startTracking(deps, t);
    const due = await store.due();
    expect(due.map((d) => [d.queue, d.dueAt - clock.now()]).sort()).toEqual(
      [
        ['expiry', 7 * DAY],
        ['reminder', 3 * DAY],
        ['status-poll', 15 * MIN],
      ].sort(),
    );
    for (const q of ['status-poll', 'reminder', 'expiry'] as const) {
      expect(await deps.queues.get(q).getDelayedCount()).toBe(0);
    }
    // Re-scheduling moves a timer rather than adding a second one.
    await store.schedule('c1', [poll('c1', 5)], false);
    await store.schedule('c1', [poll('c1', 9)], false);
    expect((await store.due()).filter((d) => d.id === 'poll--c1--1--0')).toEqual([
      { id: 'poll--c1--1--0', queue: 'status-poll', dueAt: 9 },
    ]);
  });

  it('fires what is due by the lifecycle clock as immediate jobs under their job ids, the rest waits', async () => {
    const { clock, deps, firing, store } = await setup();
    await startTracking(deps, { credentialId: 'c1', personId: 7, channel: 'email', encryptedCode: 'sealed' });
    expect(await fireDueTimers(firing)).toBe(0);
    clock.advance(16 * MIN);
    expect(await fireDueTimers(firing)).toBe(1);
    const job = await deps.queues
      .get('status-poll')
      .getJob('poll--c1--' + String(clock.now() - 16 * MIN) + '--0');
    expect(job?.data).toMatchObject({ credentialId: 'c1', personId: 7, n: 0 });
    expect(await job?.getState()).toBe('waiting');
    expect((await store.due()).map((d) => d.queue).sort()).toEqual(['expiry', 'reminder']);
    expect(await store.counts()).toEqual({ due: 2, inHand: 0 });
    expect(await fireDueTimers(firing)).toBe(0);
  });

  it('a status change cancels the timers the old status had', async () => {
    const { deps, store, h } = await setup();
    await startTracking(deps, { credentialId: 'c1', personId: 7, channel: 'email', encryptedCode: 'sealed' });
    expect(await store.counts()).toEqual({ due: 3, inHand: 0 });
    // Accepted: provisioning has its own poll and a stuck check; expiry and the reminder go.
    await recordAndSchedule(deps, { id: 'c1', status: 'provisioning', source: 'webhook' });
    expect((await store.due()).map((d) => d.queue).sort()).toEqual(['status-poll', 'stuck-check']);
    await recordAndSchedule(deps, { id: 'c1', status: 'active', source: 'webhook' });
    expect(await store.counts()).toEqual({ due: 0, inHand: 0 });
    const { redis, keys } = h.pipeline;
    expect(await redis.hlen(keys.lifecycleTimers)).toBe(0);
    expect(await redis.exists(keys.credentialTimers('c1'))).toBe(0);
  });

  it('two schedulers racing fire each timer exactly once', async () => {
    const { h, clock, firing, store } = await setup();
    const n = 1_200;
    for (let i = 0; i < n; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          store.schedule(`c${i + j}`, [poll(`c${i + j}`, clock.now())], false),
        ),
      );
    }
    // A second process: its own connection and store, the same index.
    const other = testRedis();
    closers.push(() => other.quit());
    const otherStore = new LifecycleTimerStore(other, h.pipeline.keys);
    const popped = await Promise.all([
      store.pop(clock.now(), 50),
      otherStore.pop(clock.now(), 50),
      store.pop(clock.now(), 50),
      otherStore.pop(clock.now(), 50),
    ]);
    const ids = popped.flat().map((t) => t.id);
    expect(ids).toHaveLength(200);
    expect(new Set(ids).size).toBe(200);
    await store.ack(popped.flat());
    const fired = await Promise.all([
      fireDueTimers(firing),
      fireDueTimers({ ...firing, timers: otherStore }),
      fireDueTimers(firing),
    ]);
    expect(fired.reduce((a, b) => a + b, 0)).toBe(n - 200);
    expect(await store.counts()).toEqual({ due: 0, inHand: 0 });
    // The popped-and-acknowledged 200 were handed over by the test, not the schedulers.
    expect(await h.pipeline.queues.get('status-poll').getWaitingCount()).toBe(n - 200);
  });

  it('a timer popped by a process that died before handing it over fires after its lease', async () => {
    const { h, clock, firing, store } = await setup();
    await store.schedule('c1', [poll('c1', clock.now())], false);
    // The dying process: pops on its own connection, then is gone before adding the job.
    const doomed = testRedis();
    const dying = new LifecycleTimerStore(doomed, h.pipeline.keys, 300);
    expect((await dying.pop(clock.now(), 500)).map((t) => t.id)).toEqual(['poll--c1--1--0']);
    doomed.disconnect();
    expect(await store.counts()).toEqual({ due: 0, inHand: 1 });
    // Within the lease nobody else takes it…
    expect(await fireDueTimers(firing)).toBe(0);
    await new Promise((r) => setTimeout(r, 400));
    // …after it, the next tick does.
    expect(await fireDueTimers(firing)).toBe(1);
    expect(await h.pipeline.queues.get('status-poll').getJob('poll--c1--1--0')).toBeDefined();
    expect(await store.counts()).toEqual({ due: 0, inHand: 0 });
    expect(await h.pipeline.redis.hlen(h.pipeline.keys.lifecycleTimers)).toBe(0);
  });

  it('purging a revoked credential removes its timers from the index', async () => {
    const { h, clock, deps, store } = await setup();
    const { credentials } = h.pipeline.stores;
    await startTracking(deps, { credentialId: 'c1', personId: 7, channel: 'email', encryptedCode: 'sealed' });
    await startTracking(deps, { credentialId: 'c2', personId: 8, channel: 'email', encryptedCode: 'sealed' });
    // A timer left behind (e.g. written by an older version) for a credential now revoked.
    await credentials.recordStatus({
      id: 'c1',
      status: 'revoked',
      atMs: clock.now() - 40 * DAY,
      source: 'revoke',
    });
    expect(await store.counts()).toEqual({ due: 6, inHand: 0 });
    expect(await credentials.purgeTerminal(clock.now() - 30 * DAY)).toBe(1);
    const left = await store.due();
    expect(left).toHaveLength(3);
    expect(left.every((t) => !t.id.includes('c1'))).toBe(true);
    const { redis, keys } = h.pipeline;
    expect(await redis.hlen(keys.lifecycleTimers)).toBe(3);
    expect(await redis.exists(keys.credentialTimers('c1'))).toBe(0);
  });
});
