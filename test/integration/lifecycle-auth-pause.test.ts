import type { Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { type LifecycleHarness, startLifecycle } from '../helpers/lifecycle.ts';
import { roster } from '../helpers/pipeline.ts';

const DAY = 86_400_000;
const LIFECYCLE = ['reminder', 'expiry', 'status-poll'] as const;

/**
 * Issue 13 §2: reminder, expiry and status-poll jobs wait out a fleet-wide auth pause — delayed,
 * no attempt spent, no DoorFlow call, nothing dead-lettered, the status-poll chain intact — and
 * carry on once the pause is lifted.
 */
describe('lifecycle jobs under an auth pause', () => {
  let lh: LifecycleHarness | undefined;
  afterEach(async () => {
    await lh?.close();
    lh = undefined;
  });

  it('wait while DoorFlow access is paused and run once it is lifted', async () => {
    lh = await startLifecycle({
      manualClock: true,
      webhooks: false,
      env: {
        REMINDER_AFTER: '3d',
        REMINDER_MAX: '1',
        INVITATION_TTL: '7d',
        EXPIRY_POLICY: 'reissue',
        REISSUE_MAX: '1',
        STATUS_POLL_AFTER: '1d',
      },
    });
    const l = lh;
    const clock = l.manual;
    if (!clock) throw new Error('manual clock expected');
    const run = await intake(l.h.pipeline.intakeDeps(), { source: 'test', delivery: 'email' }, roster(1));
    await l.h.waitForRun(run.runId);
    await l.smtp.waitFor(1);
    const [first] = l.h.sim.credentials();
    if (!first) throw new Error('no credential');
    await l.waitFor('tracked', async () => (await l.record(first.id))?.status === 'invited');
    const queues = l.h.pipeline.queues;
    await l.waitFor('reminder, expiry and status poll scheduled', async () => {
      for (const q of LIFECYCLE) if ((await l.timers(q)) !== 1) return undefined;
      return true;
    });

    const { redis, keys } = l.h.pipeline;
    await redis.hset(keys.authPause, {
      since: String(Date.now()),
      kind: 'grant',
      upstreamCode: 'invalid_grant',
    });
    const requestsBefore = l.h.sim.stats().requestsTotal;

    // Everything is due now: reminder (3 d), status poll (1 d) and expiry (7 d).
    clock.advance(8 * DAY);
    expect(await l.runDue()).toBe(3);
    // Each job runs, finds the pause and re-delays itself (2–4 s); give them two rounds.
    await new Promise((r) => setTimeout(r, 6_000));
    await l.promote(...LIFECYCLE);
    await new Promise((r) => setTimeout(r, 1_500));

    expect(l.h.sim.stats().requestsTotal).toBe(requestsBefore);
    expect(l.smtp.messages).toHaveLength(1);
    expect(await l.h.pipeline.deadLetters.count()).toBe(0);
    for (const q of LIFECYCLE) {
      const queue = queues.get(q);
      expect(await queue.getFailedCount(), `${q} failed`).toBe(0);
      const jobs: Job[] = await queue.getJobs(['delayed', 'waiting', 'active']);
      expect(jobs.length, `${q} jobs waiting out the pause`).toBeGreaterThanOrEqual(1);
      for (const job of jobs) expect(job.attemptsMade, `${q} attempts`).toBe(0);
    }
    expect((await l.record(first.id))?.status).toBe('invited');

    // Lifted (what `auth set-token` does once the new token is stored): the jobs carry on.
    await redis.del(keys.authPause);
    await l.waitFor(
      'the reissued invitation sent after the pause',
      async () => {
        await l.runDue();
        await l.promote(...LIFECYCLE);
        return l.smtp.messages.length >= 2 ? true : undefined;
      },
      30_000,
    );
    expect(l.h.sim.stats().requestsTotal).toBeGreaterThan(requestsBefore);
    expect(await l.h.pipeline.deadLetters.count()).toBe(0);
    for (const q of LIFECYCLE) expect(await queues.get(q).getFailedCount(), `${q} failed`).toBe(0);
  }, 120_000);
});
