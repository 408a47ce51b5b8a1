import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAndWait, runCli, spawnWorker } from '../helpers/cli.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

/** Acceptance 6: `import --wait` exit codes and summary, and `dlq replay`, through the real CLI. */
describe('cli: import --wait, runs, dlq', () => {
  let h: Harness;
  let worker: ChildProcess | undefined;
  let dir: string;

  const csv = (rows: string[]) => ['system_id,first_name,last_name,email,mobile', ...rows].join('\n');
  const people = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => `C${from + i},Ann${from + i},Lee,c${from + i}@example.test,`);

  beforeAll(async () => {
    h = await startHarness();
    dir = await mkdtemp(join(tmpdir(), 'dfp-e2e-'));
    worker = await spawnWorker(h.env);
  }, 120_000);
  afterAll(async () => {
    if (worker) await killAndWait(worker, 'SIGTERM');
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 with a summary when every entry was provisioned', async () => {
    const file = join(dir, 'ok.csv');
    await writeFile(file, csv(people(1, 30)));
    const res = await runCli(['import', file, '--delivery', 'webhook', '--wait'], h.env);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/30 entries queued/);
    expect(res.stdout).toMatch(/finished: all provisioned/);
    expect(res.stdout).toMatch(/provisioned\s+30/);
    expect(res.stdout).not.toMatch(/[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/);
    expect(h.receiver.accepted).toHaveLength(30);
  }, 120_000);

  it('exits 1 and names the failed entries when some are invalid or dead-lettered; dlq replay completes them once', async () => {
    h.sim.configure({ licenceLimit: 35 });
    const file = join(dir, 'mixed.csv');
    await writeFile(
      file,
      csv([...people(31, 10), 'C99,,NoFirst,nofirst@example.test,', 'C31,Ann31,Lee,c31@example.test,']),
    );
    const res = await runCli(['import', file, '--delivery', 'webhook', '--wait'], h.env);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/1 duplicate key skipped, 1 rejected/);
    expect(res.stdout).toMatch(/finished with failures/);
    expect(res.stdout).toMatch(/failed: licence_limit\s+5/);
    expect(res.stdout).toMatch(/line 12 sid:C99: failed: invalid_entry/);
    const runId = /run (r[\w-]+):/.exec(res.stdout)?.[1];
    expect(runId).toBeDefined();

    const list = await runCli(['dlq', 'list', '--code', 'licence_limit', '--json'], h.env);
    expect(list.code).toBe(0);
    const records = JSON.parse(list.stdout) as { id: string }[];
    expect(records).toHaveLength(5);
    const one = await runCli(['dlq', 'show', records[0]!.id, '--json'], h.env);
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({
      queue: 'credential',
      code: 'licence_limit',
      httpStatus: 422,
      runId,
    });
    expect(one.stdout).not.toMatch(/encryptedCode|invitation_code/);

    h.sim.configure({ licenceLimit: 0 });
    const replay = await runCli(['dlq', 'replay', '--code', 'licence_limit'], h.env);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/replayed 5, skipped 0/);
    await h.waitForRun(runId!);
    const writes = h.sim.stats().writeCount;
    const again = await runCli(['dlq', 'replay', '--code', 'licence_limit'], h.env);
    expect(again.stdout).toMatch(/replayed 0/);
    expect(h.sim.stats().writeCount).toBe(writes);

    // Replayed entries that succeeded leave no dead letter behind.
    const after = await runCli(['dlq', 'list', '--run', runId!], h.env);
    expect(after.stdout).toMatch(/no dead letters/);
    const purge = await runCli(['dlq', 'purge', '--run', runId!], h.env);
    expect(purge.stdout).toMatch(/purged 0 dead letter/);
    const runsList = await runCli(['runs', 'list'], h.env);
    expect(runsList.stdout).toContain(runId!);
    const show = await runCli(['runs', 'show', runId!, '--json'], h.env);
    const view = JSON.parse(show.stdout) as { outcomes: Record<string, number>; run: { total: number } };
    expect(view.outcomes).toEqual({ provisioned: 10, 'failed: invalid_entry': 1 });
    expect(h.sim.stats().duplicates).toEqual({
      peopleBySystemId: 0,
      peopleByEmail: 0,
      liveHidCredentials: 0,
    });
  }, 300_000);

  it('exits 3 naming the missing variables when the delivery channel is not configured', async () => {
    const file = join(dir, 'cfg.csv');
    await writeFile(file, csv(people(50, 1)));
    const res = await runCli(['import', file, '--delivery', 'webhook'], {
      ...h.env,
      DELIVERY_WEBHOOK_URL: '',
    });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/DELIVERY_WEBHOOK_URL/);
  }, 120_000);
});
