import { afterEach, describe, expect, it } from 'vitest';
import { chaosRoster } from '../../chaos/roster.ts';
import { intake } from '../../src/producers/intake.ts';
import { type AccountsEnv, startAccountsEnv } from '../helpers/accounts-fleet.ts';
import { testRedisEnv, uniquePrefix } from '../helpers/redis.ts';

/**
 * Two DoorFlow accounts, one fleet of two worker processes: each account has its own simulator
 * enforcing its own rate limit. (The full-size figures — 3,000 and 100 people — are the
 * `accounts` benchmark's; this is the same flow at a size CI runs in a minute.)
 */
describe('accounts: two DoorFlow accounts served by one fleet', () => {
  let fleet: AccountsEnv | undefined;
  afterEach(async () => {
    await fleet?.close();
    fleet = undefined;
  });

  async function finished(account: string, runId: string, timeoutMs: number) {
    const pipeline = fleet!.pipelines.get(account)!;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = await pipeline.runs.get(runId);
      if (run?.finishedAt !== undefined) return run;
      if (Date.now() > deadline) throw new Error(`${account} run not finished: ${JSON.stringify(run)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('each account within its own limit; a small run is not starved by a big one started first; a revoked grant pauses only its account', async () => {
    fleet = await startAccountsEnv({
      accounts: [
        { name: 'big', people: 500, rate: 50 },
        { name: 'small', people: 40, rate: 20, grant: true },
      ],
      workers: 2,
      redis: { env: testRedisEnv(), prefix: uniquePrefix('accts') },
    });
    const big = fleet.pipelines.get('big')!;
    const small = fleet.pipelines.get('small')!;
    const bigRun = await intake(big.intakeDeps(), { source: 'big', delivery: 'webhook' }, chaosRoster(500));
    // The big run is well under way before the small one arrives.
    while (((await big.runs.get(bigRun.runId))?.counts.provisioned ?? 0) < 20) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const smallStarted = Date.now();
    const smallRun = await intake(
      small.intakeDeps(),
      { source: 'small', delivery: 'webhook' },
      chaosRoster(40),
    );
    const smallRecord = await finished('small', smallRun.runId, 120_000);
    const smallSeconds = (smallRecord.finishedAt! - smallStarted) / 1000;
    const smallStats = await fleet.sims.get('small')!.stats();
    const bigAtSmallEnd = (await big.runs.get(bigRun.runId))!;
    console.log(
      `[accounts] small: 40 people, ${smallStats.requestsTotal} requests in ${smallSeconds.toFixed(1)} s (minimum at 20 req/s ${(smallStats.requestsTotal / 20).toFixed(1)} s); big still running: ${bigAtSmallEnd.finishedAt === undefined}`,
    );
    expect(smallRecord.counts.provisioned).toBe(40);
    // Not starved: the small account finished while the big one, started first, still ran.
    expect(bigAtSmallEnd.finishedAt).toBeUndefined();

    // Small's grant is revoked: its next run pauses on its own auth pause; big carries on.
    const revoked = await fetch(`${fleet.sims.get('small')!.url}/__sim/oauth/revoke-all`, { method: 'POST' });
    expect(revoked.status).toBe(200);
    const second = await intake(
      small.intakeDeps(),
      { source: 'small-2', delivery: 'webhook' },
      chaosRoster(10, 1_000),
    );
    const pauseDeadline = Date.now() + 30_000;
    while ((await small.doorflow().authPause()) === undefined && Date.now() < pauseDeadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await small.doorflow().authPause()).toMatchObject({ kind: 'grant' });
    expect(await big.doorflow().authPause()).toBeUndefined();
    const bigRecord = await finished('big', bigRun.runId, 180_000);
    expect(bigRecord.counts.provisioned).toBe(500);
    expect(bigRecord.dead).toBe(0);
    // Paused, not failed: small's second run waits, nothing dead-lettered.
    expect((await small.runs.get(second.runId))?.finishedAt).toBeUndefined();
    expect(await small.deadLetters.count()).toBe(0);

    for (const [name, rate] of [
      ['big', 50],
      ['small', 20],
    ] as const) {
      const stats = await fleet.sims.get(name)!.stats();
      expect(stats.maxRequestsInAnySecond, name).toBeLessThanOrEqual(rate);
      expect(stats.rateLimited429, name).toBe(0);
    }
  });
});
