import type { RedisConnection } from '../../src/lib/core/redis.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/core/clock.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { RunStore } from '../../src/lib/store/runs.ts';
import { writeBigRun } from '../helpers/big-run.ts';
import { runCli } from '../helpers/cli.ts';
import { deletePrefix, testRedis, testRedisUrl, uniquePrefix } from '../helpers/redis.ts';

/**
 * `runs show` and `runs report` on a 20,000-entry run, as a user runs them: `--json` streams every
 * entry in roster order, the report has one line per entry, the text view counts what it does not
 * list from the counters. (The 1,000,000-entry figures are the run-views bench.)
 */

const N = 20_000;

describe('cli: runs show and runs report on a big run', () => {
  let redis: RedisConnection;
  let prefix: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    redis = testRedis();
    prefix = uniquePrefix('views');
    env = { REDIS_URL: testRedisUrl(), QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn' };
    const keys = new RedisKeys(prefix);
    const now = Date.now();
    await writeBigRun(redis, keys, new RunStore(redis, keys, new ManualClock(now)), {
      id: 'rVIEWS',
      entries: N,
      provisionedEvery: 2,
      failedEvery: 10,
      now,
    });
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('runs show --json: every entry in roster order, outcomes from the counters', async () => {
    const res = await runCli(['runs', 'show', 'rVIEWS', '--json'], env);
    expect(res.code, res.stderr).toBe(0);
    const view = JSON.parse(res.stdout) as {
      run: { total: number };
      outcomes: Record<string, number>;
      entries: { key: string; outcome: string }[];
    };
    expect(view.run.total).toBe(N);
    expect(view.entries).toHaveLength(N);
    expect(view.entries.slice(0, 3).map((e) => e.key)).toEqual(['sid:E0', 'sid:E1', 'sid:E2']);
    const failed = view.entries.filter((e) => e.outcome === 'failed: licence_limit').length;
    expect(view.outcomes).toEqual({
      provisioned: N / 2,
      'failed: licence_limit': failed,
      'pending: person': N / 2 - failed,
    });
  });

  it('runs report: one line per entry in roster order; runs show counts the entries it does not list', async () => {
    const res = await runCli(['runs', 'report', 'rVIEWS'], env);
    expect(res.code, res.stderr).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(N + 1);
    expect(lines[1]).toMatch(/^sid:E0,First0 Last0,1,c0,provisioned,/);
    expect(lines[2]).toMatch(/^sid:E1,First1 Last1,,,failed,credential,webhook,,licence_limit$/);
    const text = await runCli(['runs', 'show', 'rVIEWS'], env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`… and ${N / 2 - 20} more (runs show rVIEWS --json)`);
  });
});
