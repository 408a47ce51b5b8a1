import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { PAUSABLE_QUEUES } from '../../src/lib/jobs/pipeline-queues.ts';
import { intake } from '../../src/producers/intake.ts';
import { killAndWait, runCli, spawnWorker } from '../helpers/cli.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

/**
 * Acceptance for run control, through the real CLI against `worker` child processes and the
 * simulator: `runs cancel` stops a 2,000-person run's DoorFlow writes once its in-flight steps are
 * done, and `pause` / `resume` stop and restart the fleet's pipeline.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cli: runs cancel, pause, resume', () => {
  let h: Harness | undefined;
  const children: ChildProcess[] = [];
  afterEach(async () => {
    await Promise.all(children.map((c) => killAndWait(c, 'SIGKILL')));
    children.length = 0;
    await h?.close();
    h = undefined;
  });

  const activeJobs = async (harness: Harness) =>
    (await Promise.all(PAUSABLE_QUEUES.map((q) => harness.pipeline.queues.get(q).getActiveCount()))).reduce(
      (a, b) => a + b,
      0,
    );

  /** Waits until no pipeline job is running; returns when that was. */
  const inFlightDone = async (harness: Harness, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while ((await activeJobs(harness)) > 0) {
      if (Date.now() > deadline) throw new Error('in-flight jobs did not finish');
      await sleep(50);
    }
    return Date.now();
  };

  it('runs cancel at 30 % of 2,000 people: writes stop within 2 s of in-flight work, the run ends cancelled, its entries import again', async () => {
    h = await startHarness({
      sim: { faults: { latencyMs: 20 } },
      env: { WORKER_CONCURRENCY: '8' },
    });
    children.push(await spawnWorker(h.env), await spawnWorker(h.env));
    const people = roster(2000);
    const run = await intake(h.pipeline.intakeDeps(), { source: 'big.csv', delivery: 'webhook' }, people);
    const settled = async () => {
      const r = await h!.pipeline.runs.get(run.runId);
      return (r?.counts.provisioned ?? 0) + (r?.counts.already_provisioned ?? 0);
    };
    const deadline = Date.now() + 90_000;
    while ((await settled()) < 600) {
      if (Date.now() > deadline) throw new Error('the run did not reach 30 % in 90 s');
      await sleep(100);
    }
    const atCancel = await settled();
    const cancel = await runCli(['runs', 'cancel', run.runId], h.env);
    expect(cancel.stderr).toBe('');
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toMatch(
      new RegExp(`run ${run.runId} (cancelled|cancelling): \\d+ queued steps? removed`),
    );
    const writesAtCancel = h.sim.stats().writeCount;
    const returnedAt = Date.now();

    const idle = await inFlightDone(h);
    await sleep(2_000);
    const writesAfter2s = h.sim.stats().writeCount;
    await sleep(3_000);
    const writesLater = h.sim.stats().writeCount;
    console.info(
      `runs cancel at ${atCancel}/2000 provisioned: ${writesAfter2s - writesAtCancel} DoorFlow writes after cancel returned, ` +
        `in-flight done ${idle - returnedAt} ms after it; writes 2-5 s after that: ${writesLater - writesAfter2s} (0 expected)`,
    );
    expect(writesLater).toBe(writesAfter2s);
    expect(writesAfter2s - writesAtCancel).toBeLessThan(200);

    // The run ends cancelled, with finishedAt (the retention purge needs it), every entry settled.
    let done = await h.pipeline.runs.get(run.runId);
    for (let i = 0; i < 50 && done?.finishedAt === undefined; i++) {
      await sleep(100);
      done = await h.pipeline.runs.get(run.runId);
    }
    expect(done?.finishedAt).toBeDefined();
    expect(done?.cancelledAt).toBeDefined();
    const cancelled = done?.counts.cancelled ?? 0;
    const ok = (done?.counts.provisioned ?? 0) + (done?.counts.already_provisioned ?? 0);
    expect(cancelled).toBeGreaterThan(500);
    expect(ok + cancelled + (done?.dead ?? 0)).toBe(2000);

    const show = await runCli(['runs', 'show', run.runId], h.env);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(' — cancelled');
    expect(show.stdout).toMatch(/cancelled\s+\d+/);
    const again = await runCli(['runs', 'cancel', run.runId, '--json'], h.env);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ mark: 'already_cancelled', removed: 0, inFlight: 0 });

    // The cancelled entries can be imported again later: a new run provisions them, once.
    const statuses = await h.pipeline.runs.entries(run.runId);
    const cancelledKeys = new Set(statuses.filter((e) => e.status === 'cancelled').map((e) => e.key));
    const retry = people.filter((p) => cancelledKeys.has(`sid:${String(p.system_id)}`)).slice(0, 100);
    expect(retry).toHaveLength(100);
    const second = await intake(h.pipeline.intakeDeps(), { source: 'retry.csv', delivery: 'webhook' }, retry);
    const finished = await h.waitForRun(second.runId, 60_000);
    expect((finished.counts.provisioned ?? 0) + (finished.counts.already_provisioned ?? 0)).toBe(100);
    expect(h.sim.stats().duplicates).toEqual({
      peopleBySystemId: 0,
      peopleByEmail: 0,
      liveHidCredentials: 0,
    });
  }, 200_000);

  it('pause: running jobs finish and no pipeline job is taken; resume: the run completes', async () => {
    h = await startHarness({ sim: { faults: { latencyMs: 40 } }, env: { WORKER_CONCURRENCY: '4' } });
    children.push(await spawnWorker(h.env), await spawnWorker(h.env));
    const first = await intake(
      h.pipeline.intakeDeps(),
      { source: 'a.csv', delivery: 'webhook' },
      roster(200),
    );
    while (((await h.pipeline.runs.get(first.runId))?.counts.provisioned ?? 0) < 20) await sleep(50);

    const paused = await runCli(['pause', '--json'], h.env);
    expect(paused.code).toBe(0);
    expect(JSON.parse(paused.stdout)).toMatchObject({ paused: true, pausedQueues: [...PAUSABLE_QUEUES] });
    const pausedAt = Date.now();
    const idle = await inFlightDone(h);
    // Workers honour the pause at once: what was running is done within a second or so.
    expect(idle - pausedAt).toBeLessThan(5_000);
    const writes = h.sim.stats().writeCount;
    const progress = await h.pipeline.runs.get(first.runId);
    // A run imported while paused waits too.
    const second = await intake(
      h.pipeline.intakeDeps(),
      { source: 'b.csv', delivery: 'webhook' },
      roster(30, 1000),
    );
    await sleep(3_000);
    expect(h.sim.stats().writeCount).toBe(writes);
    expect(await activeJobs(h)).toBe(0);
    expect((await h.pipeline.runs.get(first.runId))?.done).toEqual(progress?.done);
    expect((await h.pipeline.runs.get(second.runId))?.counts.person).toBe(30);
    const show = await runCli(['runs', 'show', first.runId], h.env);
    expect(show.stdout).toMatch(/pipeline PAUSED since \S+ by \S+ \(cli\)/);

    const resumed = await runCli(['resume'], h.env);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('pipeline running');
    expect((await h.waitForRun(first.runId, 90_000)).counts.provisioned).toBe(200);
    expect((await h.waitForRun(second.runId, 60_000)).counts.provisioned).toBe(30);
    const audit = await runCli(['audit', 'export'], h.env);
    expect(audit.stdout).toContain('pipeline.pause');
    expect(audit.stdout).toContain('pipeline.resume');
  }, 200_000);
});
