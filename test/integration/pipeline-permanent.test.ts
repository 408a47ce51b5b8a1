import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

/** Permanent failures skip the remaining attempts and land in the dead-letter store at once. */
describe('pipeline: permanent failures', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('an email held by a person with another system_id is email_conflict after one attempt; nothing is written', async () => {
    h = await startHarness();
    await h.pipeline.doorflow().createPerson({
      first_name: 'Other',
      last_name: 'Person',
      system_id: 'X1',
      email: 'taken@example.test',
    });
    const writes = h.sim.stats().writeCount;
    await h.startWorkers();
    const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, [
      { system_id: 'E1', first_name: 'New', last_name: 'Hire', email: 'Taken@example.test', line: 2 },
    ]);
    const done = await h.waitForRun(run.runId);
    expect(done.counts['dead:person']).toBe(1);
    const [dead] = await h.pipeline.deadLetters.list();
    expect(dead).toMatchObject({ queue: 'person', code: 'email_conflict', attempts: 1, key: 'sid:E1' });
    expect(h.sim.stats().writeCount).toBe(writes);
    // Not retried: in its batch (the default) it never reached the person queue's retries.
    expect(done.retries.person ?? 0).toBe(0);
    expect(await h.pipeline.queues.get('person').getJobCounts('delayed', 'waiting')).toEqual({
      delayed: 0,
      waiting: 0,
    });
  });

  it('a job whose payload fails its schema is unrecoverable and dead-lettered as invalid_payload', async () => {
    h = await startHarness();
    await h.startWorkers();
    const runId = await h.pipeline.runs.create({ source: 't', delivery: 'webhook' });
    await h.pipeline.runs.addEntry(runId, 'sid:bad', 'credential');
    await h.pipeline.runs.closeIntake(runId);
    // Bypass the registry's validation on add, as a foreign producer or an old version might.
    await h.pipeline.queues
      .get('credential')
      .add('credential', { runId, key: 'sid:bad', personId: 'not-a-number' }, { jobId: `${runId}--bad` });
    const done = await h.waitForRun(runId);
    expect(done.counts['dead:credential']).toBe(1);
    const [dead] = await h.pipeline.deadLetters.list({ step: 'credential' });
    expect(dead).toMatchObject({ code: 'invalid_payload', attempts: 1, runId });
    expect(h.sim.stats().writeCount).toBe(0);
  });
});
