import { describe, expect, it } from 'vitest';
import { runKillPlan } from '../../chaos/scenarios/kills.ts';

/**
 * The reduced chaos run CI executes (the full suite is `npm run chaos`, see RELIABILITY.md):
 * 1,000 people, three real worker processes, three SIGKILLed workers (each while batch jobs are in flight), and one SIGKILL of an
 * AOF-backed redis-server restarted from its file on the same port mid-run. Ends with the chaos
 * invariant check: one person, one live HID credential and a confirmed delivery per entry, no
 * duplicates, nothing left active or waiting, every failure dead-lettered with a reason.
 */
describe('chaos (CI): worker SIGKILLs and a Redis crash during a 1,000-person run', () => {
  it('finishes with every invariant intact', async () => {
    const result = await runKillPlan('ci-chaos', {
      people: 1_000,
      workers: 3,
      kills: 3,
      minGapMs: 3_000,
      maxGapMs: 5_000,
      redisCrashesAt: [0.4],
      redisDownMs: 2_000,
      rate: 80,
      // Every kill lands while batch jobs (50 entries each) are being processed.
      batchSize: 50,
      midBatch: true,
      timeoutMs: 150_000,
      log: (line) => console.log(`[chaos] ${line}`),
    });
    console.log(`[chaos] ${JSON.stringify({ durationMs: result.durationMs, ...result.figures })}`);
    console.log(`[chaos] invariants ${JSON.stringify(result.invariants?.figures)}`);
    expect(result.failures).toEqual([]);
    expect(result.ok).toBe(true);
  }, 175_000);
});
