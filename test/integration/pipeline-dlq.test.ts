import { replayDeadLetters } from '../../src/processors/services/replay.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

/** Acceptance 2: licence limit → dead letters with licence_limit → replay completes them, once. */
describe('pipeline: dead letters and replay', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('dead-letters entries past the licence limit; replay after raising it completes them; a second replay changes nothing', async () => {
    h = await startHarness({ sim: { licenceLimit: 900 } });
    await h.startWorkers();
    const run = await intake(h.pipeline.intakeDeps(), { source: 'test', delivery: 'webhook' }, roster(1000));
    const first = await h.waitForRun(run.runId, 170_000);
    expect(first.counts.provisioned).toBe(900);
    expect(first.dead).toBe(100);
    const dead = await h.pipeline.deadLetters.list({ code: 'licence_limit' });
    expect(dead).toHaveLength(100);
    const sample = dead[0]!;
    expect(sample).toMatchObject({
      queue: 'credential',
      runId: run.runId,
      code: 'licence_limit',
      httpStatus: 422,
    });
    expect(sample.attempts).toBe(1);
    expect(sample.firstFailedAt).toBeGreaterThan(0);
    expect(JSON.stringify(dead)).not.toMatch(/[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/);
    expect(h.sim.stats().credentials.invited).toBe(900);

    h.sim.configure({ licenceLimit: 0 });
    const replay = await replayDeadLetters(dead, {
      deadLetters: h.pipeline.deadLetters,
      queues: h.pipeline.queues,
      runs: h.pipeline.runs,
    });
    expect(replay.replayed).toHaveLength(100);
    const second = await h.waitForRun(run.runId, 100_000);
    console.log(`[acceptance 2] after replay: provisioned=${second.counts.provisioned} dead=${second.dead}`);
    expect(second.counts.provisioned).toBe(1000);
    expect(second.dead).toBe(0);
    expect(await h.pipeline.deadLetters.list()).toHaveLength(0);
    const stats = h.sim.stats();
    expect(stats.people).toBe(1000);
    expect(stats.credentials.invited).toBe(1000);
    expect(stats.duplicates).toEqual({ peopleBySystemId: 0, peopleByEmail: 0, liveHidCredentials: 0 });
    expect(h.receiver.countsByCredential().size).toBe(1000);

    // Second replay by code: nothing left to replay, nothing written.
    const writes = stats.writeCount;
    const again = await replayDeadLetters(await h.pipeline.deadLetters.list({ code: 'licence_limit' }), {
      deadLetters: h.pipeline.deadLetters,
      queues: h.pipeline.queues,
      runs: h.pipeline.runs,
    });
    expect(again.replayed).toHaveLength(0);
    // Replaying the already-replayed records explicitly (by id) is refused as well.
    const byId = await replayDeadLetters(dead, {
      deadLetters: h.pipeline.deadLetters,
      queues: h.pipeline.queues,
      runs: h.pipeline.runs,
    });
    expect(byId.replayed).toHaveLength(0);
    const counts = await h.pipeline.queues.get('person').getJobCounts('waiting', 'active', 'delayed');
    expect(counts).toEqual({ waiting: 0, active: 0, delayed: 0 });
    expect(h.sim.stats().writeCount).toBe(writes);
    expect([...h.receiver.countsByCredential().values()].every((n) => n === 1)).toBe(true);
  }, 300_000);

  it('a dead delivery replays from the invitation step; once it meanwhile succeeded, replay sends and writes nothing', async () => {
    h = await startHarness({ receiverFailureRate: 1, env: { JOB_ATTEMPTS: '2' } });
    await h.startWorkers();
    const rows = roster(5);
    const run = await intake(h.pipeline.intakeDeps(), { source: 'test', delivery: 'webhook' }, rows);
    const first = await h.waitForRun(run.runId);
    expect(first.counts['dead:delivery-webhook']).toBe(5);
    const dead = await h.pipeline.deadLetters.list({ step: 'delivery' });
    expect(dead.map((d) => d.code)).toEqual(Array(5).fill('webhook_failed'));
    expect(dead.every((d) => d.httpStatus === 503 && d.attempts === 2)).toBe(true);
    expect(dead.every((d) => !('encryptedCode' in d.payload))).toBe(true);

    // Meanwhile a second import of the same people succeeds (the receiver is back).
    h.receiver.setFailureRate(0);
    const writes = h.sim.stats().writeCount;
    const later = await intake(h.pipeline.intakeDeps(), { source: 'again', delivery: 'webhook' }, rows);
    expect((await h.waitForRun(later.runId)).counts.provisioned).toBe(5);
    expect(h.receiver.accepted).toHaveLength(5);

    // Replaying the first run's dead letters now finds everything done: no writes, no second send.
    const replay = await replayDeadLetters(dead, {
      deadLetters: h.pipeline.deadLetters,
      queues: h.pipeline.queues,
      runs: h.pipeline.runs,
    });
    expect(replay.replayed).toHaveLength(5);
    const second = await h.waitForRun(run.runId);
    expect(second.counts.already_provisioned).toBe(5);
    expect(h.sim.stats().writeCount).toBe(writes);
    expect(h.receiver.accepted).toHaveLength(5);
  });
});
