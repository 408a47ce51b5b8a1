import { describe, expect, it } from 'vitest';
import { runKillPlan } from '../../chaos/scenarios/kills.ts';

/**
 * The cluster half of the CI chaos run (`npm run test:cluster`; the full scenario is
 * `npm run chaos -- --only cluster-master-kill`): a 600-person run on its own local Redis Cluster
 * (three masters, a replica each), the master that owns the prefix's slot SIGKILLed mid-run (its
 * replica is promoted) and two worker processes SIGKILLed, then the chaos invariant check.
 * Only under TEST_REDIS=cluster: `npm test` runs the single-node chaos test instead.
 */
describe.skipIf(process.env.TEST_REDIS !== 'cluster')(
  'chaos (CI, Redis Cluster): master failover and worker SIGKILLs',
  () => {
    it('finishes with every invariant intact', async () => {
      const result = await runKillPlan('ci-chaos-cluster', {
        people: 600,
        workers: 3,
        kills: 2,
        minGapMs: 2_000,
        maxGapMs: 4_000,
        redisCrashesAt: [0.4],
        redisDownMs: 0,
        cluster: true,
        rate: 80,
        timeoutMs: 150_000,
        log: (line) => console.log(`[chaos] ${line}`),
      });
      console.log(`[chaos] ${JSON.stringify({ durationMs: result.durationMs, ...result.figures })}`);
      console.log(`[chaos] invariants ${JSON.stringify(result.invariants?.figures)}`);
      expect(result.failures).toEqual([]);
      expect(result.ok).toBe(true);
    }, 175_000);
  },
);
