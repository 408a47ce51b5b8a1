import { afterEach, describe, expect, it } from 'vitest';
import { stepJobId } from '../../src/lib/jobs/registry.ts';
import { replayDeadLetters } from '../../src/processors/services/replay.ts';
import { intake } from '../../src/producers/intake.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

/**
 * Batches (queue `provision`, processors/provision.ts): a job carries a slice of a run's entries and
 * runs each through the steps in process. A failing entry leaves its batch for its step's own
 * queue; the others never wait for it or repeat a write.
 */

const BATCH = { JOBS_BATCH_SIZE: '10' };

async function jobCount(h: Harness, queue: Parameters<Harness['pipeline']['queues']['get']>[0]) {
  const c = await h.pipeline.queues.get(queue).getJobCounts('completed', 'failed', 'waiting', 'delayed');
  return (c.completed ?? 0) + (c.failed ?? 0) + (c.waiting ?? 0) + (c.delayed ?? 0);
}

function expectOneOfEverything(h: Harness, n: number) {
  const stats = h.sim.stats();
  expect(stats.people).toBe(n);
  expect(stats.duplicates).toEqual({ peopleBySystemId: 0, peopleByEmail: 0, liveHidCredentials: 0 });
  const counts = h.receiver.countsByCredential();
  expect(counts.size).toBe(n);
  expect([...counts.values()].every((c) => c === 1)).toBe(true);
}

describe('pipeline: batches of entries', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('a batch provisions all its entries in process: one job per slice, no step job', async () => {
    h = await startHarness({ env: BATCH });
    await h.startWorkers();
    const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, roster(35));
    const done = await h.waitForRun(run.runId);
    expect(done.counts.provisioned).toBe(35);
    expect(await jobCount(h, 'provision')).toBe(4);
    for (const q of ['person', 'credential', 'invitation', 'delivery-webhook'] as const) {
      expect(await jobCount(h, q)).toBe(0);
    }
    expectOneOfEverything(h, 35);
    // Per-entry outcomes, with the ids the steps found.
    const entries = await h.pipeline.runs.entries(run.runId);
    expect(entries.every((e) => e.status === 'provisioned' && e.detail.credentialId)).toBe(true);
  });

  it('one entry failing for good is dead-lettered alone at its step; replaying it replays only that entry', async () => {
    // Nine licences for ten people: exactly one credential create is refused (licence_limit, permanent).
    h = await startHarness({ env: BATCH, sim: { licenceLimit: 9 } });
    await h.startWorkers();
    const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, roster(10));
    const done = await h.waitForRun(run.runId);
    expect(done.counts.provisioned).toBe(9);
    expect(done.counts['dead:credential']).toBe(1);
    const dead = await h.pipeline.deadLetters.list({ step: 'credential' });
    expect(dead).toHaveLength(1);
    const [letter] = dead;
    expect(letter?.code).toBe('licence_limit');
    expect(letter?.attempts).toBe(1);
    expect(letter?.jobId).toBe(stepJobId(run.runId, letter?.key ?? ''));
    // The others never waited for it in a step queue.
    expect(await jobCount(h, 'credential')).toBe(0);
    expect(h.receiver.accepted).toHaveLength(9);

    h.sim.configure({ licenceLimit: 0 });
    const replay = await replayDeadLetters(dead, h.pipeline);
    expect(replay.replayed).toHaveLength(1);
    const second = await h.waitForRun(run.runId);
    expect(second.counts.provisioned).toBe(10);
    expect(second.dead).toBe(0);
    // Only that entry went again, through the credential queue; no batch ran again.
    expect(await jobCount(h, 'credential')).toBe(1);
    expect(await jobCount(h, 'provision')).toBe(1);
    expectOneOfEverything(h, 10);
  });

  it('a transient failure of one entry retries that entry alone in its step queue', async () => {
    h = await startHarness({
      env: BATCH,
      sim: { faults: { hidOrigoFailureRate: 0.25, lostResponse: { person: 0.1, credential: 0 } } },
    });
    await h.startWorkers();
    const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, roster(40));
    const done = await h.waitForRun(run.runId, 90_000);
    expect(done.counts.provisioned).toBe(40);
    expect(done.dead).toBe(0);
    const retried = (done.retries.credential ?? 0) + (done.retries.person ?? 0);
    // The faults happened, and each retried entry (only those) went through a step queue.
    expect(retried).toBeGreaterThan(0);
    const leftBatch = (await jobCount(h, 'credential')) + (await jobCount(h, 'person'));
    expect(leftBatch).toBeGreaterThan(0);
    expect(leftBatch).toBeLessThan(40);
    expectOneOfEverything(h, 40);
    expect(h.sim.stats().credentials.invited).toBe(40);
  });

  it('a batch run again after its writes (its moves lost, its job added again) creates nothing and sends nothing twice', async () => {
    h = await startHarness({ env: BATCH });
    await h.startWorkers();
    const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, roster(10));
    await h.waitForRun(run.runId);
    const before = h.sim.stats();
    // The worst moment of a kill: every DoorFlow write and send done, no entry recorded as settled.
    const statusKey = h.pipeline.keys.runStatus(run.runId);
    const keys = Object.keys(await h.pipeline.redis.hgetall(statusKey));
    await h.pipeline.redis.hset(statusKey, Object.fromEntries(keys.map((k) => [k, 'person'])));
    const [job] = await h.pipeline.queues.get('provision').getJobs(['completed']);
    expect(job).toBeDefined();
    await h.pipeline.queues.get('provision').add('provision', job?.data, { jobId: `${job?.id}-again` });
    const deadline = Date.now() + 20_000;
    for (;;) {
      const statuses = Object.values(await h.pipeline.redis.hgetall(statusKey));
      if (statuses.every((s) => s === 'provisioned')) break;
      if (Date.now() > deadline) throw new Error(`entries did not settle again: ${statuses.join(',')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const after = h.sim.stats();
    expect(after.people).toBe(before.people);
    expect(after.credentialsTotal).toBe(before.credentialsTotal);
    expect(after.requests['POST /api/3/people'] ?? {}).toEqual(before.requests['POST /api/3/people'] ?? {});
    expectOneOfEverything(h, 10);
    expect(h.receiver.accepted).toHaveLength(10);
  });
});
