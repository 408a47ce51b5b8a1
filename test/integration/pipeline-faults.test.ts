import { appendFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

/**
 * The simulator, the workers and the receiver share this one test process: ~20 s per test on an idle
 * machine, much more on a loaded one, hence the generous limit.
 */
const BIG_TIMEOUT_MS = 180_000;

/** Acceptance 1 and 5 of the pipeline issue: faults everywhere, still exactly once; calls per person. */
describe('pipeline: 1,000 entries', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it(
    'HID Origo 5xx, lost responses and a budget below the rate limit: exactly one of everything',
    async () => {
      h = await startHarness({
        sim: {
          faults: {
            rateLimitPerSec: 200,
            hidOrigoFailureRate: 0.2,
            lostResponse: { person: 0.05, credential: 0.05 },
          },
        },
        // A budget that binds: the run needs ~2,800 requests, so it is paced by 150/s.
        env: { DOORFLOW_RATE_LIMIT: '150' },
      });
      await h.startWorkers();
      const run = await intake(
        h.pipeline.intakeDeps(),
        { source: 'test', delivery: 'webhook' },
        roster(1000),
      );
      expect(run.accepted).toBe(1000);
      const finished = await h.waitForRun(run.runId, BIG_TIMEOUT_MS - 10_000);
      const stats = h.sim.stats();
      console.log(
        `[acceptance 1] provisioned=${finished.counts.provisioned} dead=${finished.dead} retries=${JSON.stringify(finished.retries)} ` +
          `people=${stats.people} invited=${stats.credentials.invited} faults=${JSON.stringify(stats.faults)} ` +
          `429=${stats.rateLimited429} maxPerSec=${stats.maxRequestsInAnySecond} deliveries=${h.receiver.accepted.length}`,
      );
      expect(finished.counts.provisioned).toBe(1000);
      expect(finished.dead).toBe(0);
      expect(stats.people).toBe(1000);
      expect(stats.credentials.invited).toBe(1000);
      expect(stats.duplicates).toEqual({ peopleBySystemId: 0, peopleByEmail: 0, liveHidCredentials: 0 });
      const counts = h.receiver.countsByCredential();
      expect(counts.size).toBe(1000);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      expect(h.receiver.rejected()).toBe(0);
      // The faults really happened (the test must be able to fail).
      expect(finished.retries.credential ?? 0).toBeGreaterThan(100);
      expect(finished.retries.person ?? 0).toBeGreaterThan(10);
      expect(stats.rateLimited429).toBe(0);
      expect(stats.maxRequestsInAnySecond).toBeLessThanOrEqual(200);
    },
    BIG_TIMEOUT_MS,
  );

  it(
    'averages at most 3.1 DoorFlow calls per newly provisioned person (no faults, no invitation delay)',
    async () => {
      h = await startHarness({ sim: { invitationCodeDelayMs: 0 } });
      await h.startWorkers();
      const run = await intake(
        h.pipeline.intakeDeps(),
        { source: 'test', delivery: 'webhook' },
        roster(1000),
      );
      const finished = await h.waitForRun(run.runId, BIG_TIMEOUT_MS - 10_000);
      expect(finished.counts.provisioned).toBe(1000);
      const stats = h.sim.stats();
      const perPerson = stats.requestsTotal / finished.counts.provisioned!;
      const line = `calls per new person: ${perPerson.toFixed(3)} (${stats.requestsTotal} requests for 1000 people; routes ${JSON.stringify(stats.requests)})`;
      console.log(`[acceptance 5] ${line}`);
      if (process.env.BENCH_OUT) appendFileSync(process.env.BENCH_OUT, `${line}\n`);
      expect(perPerson).toBeLessThanOrEqual(3.1);
    },
    BIG_TIMEOUT_MS,
  );
});
