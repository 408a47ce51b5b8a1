import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAndWait, runCli, spawnWorker } from '../helpers/cli.ts';
import { startFakeHris, type FakeHris, fakeEmployees } from '../helpers/fake-hris.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';
import { testRedisUrl } from '../helpers/redis.ts';

/** `sync` through the real CLI: plan, apply with --wait, refusal (exit 5), --force, schedule. */
describe('cli: sync', () => {
  let h: Harness;
  let hris: FakeHris;
  let worker: ChildProcess | undefined;
  let dir: string;
  let env: Record<string, string>;

  const rows = (from: number, to: number) =>
    Array.from(
      { length: to - from + 1 },
      (_, i) => `S${from + i},Ann${from + i},Lee,s${from + i}@example.test`,
    );
  const writeRoster = async (lines: string[]) => {
    const file = join(dir, 'roster.csv');
    await writeFile(file, ['Employee ID,First Name,Last Name,Email', ...lines].join('\n'));
    return file;
  };

  beforeAll(async () => {
    h = await startHarness({ env: { SYNC_SCOPE_PREFIX: 'S' } });
    hris = await startFakeHris({ employees: fakeEmployees(3) });
    env = {
      ...(h.env as Record<string, string>),
      BAMBOOHR_API_KEY: 'bamboo-key',
      BAMBOOHR_BASE_URL: hris.url,
    };
    dir = await mkdtemp(join(tmpdir(), 'dfp-sync-e2e-'));
    worker = await spawnWorker(env);
  });
  afterAll(async () => {
    if (worker) await killAndWait(worker, 'SIGTERM');
    await hris?.close();
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('--dry-run prints the plan and changes nothing; applying with --wait provisions everyone', async () => {
    const file = await writeRoster(rows(1, 30));
    const dry = await runCli(['sync', '--source', 'csv', '--file', file, '--dry-run'], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/plan: create 30, update 0, offboard 0, unchanged 0/);
    expect(dry.stdout).toMatch(/HID licences: 30 consumed, 0 released/);
    expect(dry.stdout).toMatch(/dry run: nothing was changed/);
    expect(h.sim.stats().writeCount).toBe(0);

    const applied = await runCli(
      ['sync', '--source', 'csv', '--file', file, '--delivery', 'webhook', '--wait'],
      env,
    );
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/finished: 0 offboarded, 0 failed/);
    expect(h.sim.stats().people).toBe(30);
  });

  it('refuses over-threshold offboarding with exit 5 and an explanation; --force applies it', async () => {
    const file = await writeRoster(rows(1, 24));
    const writes = h.sim.stats().writeCount;
    const refused = await runCli(['sync', '--source', 'csv', '--file', file, '--max-offboard', '10%'], env);
    expect(refused.code).toBe(5);
    expect(refused.stdout).toMatch(/REFUSED \(use --force to apply anyway\):/);
    expect(refused.stdout).toMatch(
      /6 people would be offboarded, more than --max-offboard 3 \(10 % of 30 people in scope\)/,
    );
    expect(h.sim.stats().writeCount).toBe(writes);

    const json = await runCli(
      ['sync', '--source', 'csv', '--file', file, '--max-offboard', '10%', '--json'],
      env,
    );
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout).plan.safety).toMatchObject({ ok: false, maxOffboard: 3 });

    const forced = await runCli(
      ['sync', '--source', 'csv', '--file', file, '--max-offboard', '10%', '--force', '--wait'],
      env,
    );
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/finished: 6 offboarded, 0 failed/);
    expect(
      h.sim
        .people()
        .filter((p) => p.enabled === false)
        .map((p) => p.system_id)
        .sort(),
    ).toEqual(['S25', 'S26', 'S27', 'S28', 'S29', 'S30']);
  });

  it('a source that fails exits 4 and changes nothing', async () => {
    hris.setFault(() => ({ status: 500 }));
    const writes = h.sim.stats().writeCount;
    const res = await runCli(['sync', '--source', 'bamboohr', '--company', 'acme'], env);
    hris.setFault(undefined);
    expect(res.code).toBe(4);
    expect(res.stderr).toMatch(/BambooHR custom report: .* answered HTTP 500; nothing was changed/);
    expect(res.stderr).not.toContain('bamboo-key');
    expect(h.sim.stats().writeCount).toBe(writes);
  });

  it('--schedule registers a BullMQ job scheduler on the sync queue; --unschedule removes it', async () => {
    const file = await writeRoster(rows(1, 24));
    const res = await runCli(
      ['sync', '--source', 'csv', '--file', file, '--schedule', '0 2 * * *', '--tz', 'Europe/London'],
      env,
    );
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      /scheduled sync:csv:.*roster\.csv: "0 2 \* \* \*" \(Europe\/London\), next run 20/,
    );
    const connection = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
    const queue = new Queue('sync', { connection, prefix: h.config.queuePrefix });
    try {
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers).toHaveLength(1);
      expect(schedulers[0]).toMatchObject({ pattern: '0 2 * * *', tz: 'Europe/London' });
      const off = await runCli(['sync', '--source', 'csv', '--file', file, '--unschedule'], env);
      expect(off.code).toBe(0);
      expect(await queue.getJobSchedulers()).toHaveLength(0);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });
});
