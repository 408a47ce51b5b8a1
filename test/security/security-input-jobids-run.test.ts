import { afterEach, describe, expect, it } from 'vitest';
import { replayDeadLetters } from '../../src/processors/services/replay.ts';
import { intake } from '../../src/producers/intake.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

/** Issue 14: system_ids `A--r1` and `A` in one run; the replay of `A` must not be dropped as a duplicate id. */
describe('security: colliding-looking system_ids in one run', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('A--r1 and A both finish, and a replay of A is not dropped', async () => {
    h = await startHarness({ sim: { licenceLimit: 1 } });
    await h.startWorkers();
    const [first, second] = roster(2);
    const rows = [
      { ...first, system_id: 'A--r1' },
      { ...second, system_id: 'A' },
    ];
    const run = await intake(h.pipeline.intakeDeps(), { source: 'test', delivery: 'webhook' }, rows);
    const done = await h.waitForRun(run.runId, 120_000);
    expect(done.counts.provisioned).toBe(1);
    expect(done.dead).toBe(1);
    const dead = await h.pipeline.deadLetters.list({ code: 'licence_limit' });
    h.sim.configure({ licenceLimit: 0 });
    const replay = await replayDeadLetters(dead, {
      deadLetters: h.pipeline.deadLetters,
      queues: h.pipeline.queues,
      runs: h.pipeline.runs,
    });
    expect(replay.replayed).toHaveLength(1);
    const after = await h.waitForRun(run.runId, 120_000);
    expect(after.counts.provisioned).toBe(2);
    expect(after.dead).toBe(0);
  }, 300_000);
});
