import { afterEach, describe, expect, it } from 'vitest';
import type { Queues } from '../../src/lib/jobs/registry.ts';
import { replayDeadLetters } from '../../src/processors/services/replay.ts';
import { intake } from '../../src/producers/intake.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

/**
 * A replayed job can finish before `dlq replay` has returned: its success clears the dead letter,
 * and nothing the replay writes afterwards may bring the record back (a CI run under load found
 * `dlq purge --run` purging one such leftover).
 */
describe('pipeline: a replay whose job finishes at once', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('leaves no dead letter behind, live or replayed', async () => {
    h = await startHarness({ sim: { licenceLimit: 3 } });
    await h.startWorkers();
    const run = await intake(h.pipeline.intakeDeps(), { source: 'test', delivery: 'webhook' }, roster(5));
    const first = await h.waitForRun(run.runId);
    expect(first.dead).toBe(2);
    const dead = await h.pipeline.deadLetters.list({ runId: run.runId });
    expect(dead).toHaveLength(2);

    h.sim.configure({ licenceLimit: 0 });
    const harness = h;
    // The replay's queue add returns only once the run has finished: the worst case of a fast worker.
    const slowQueues: Queues = {
      prefix: harness.pipeline.queues.prefix,
      get: (name) => harness.pipeline.queues.get(name),
      addBulk: (name, jobs) => harness.pipeline.queues.addBulk(name, jobs),
      close: () => harness.pipeline.queues.close(),
      add: async (name, payload, opts) => {
        await harness.pipeline.queues.add(name, payload, opts);
        await harness.waitForRun(run.runId);
      },
    };
    const replay = await replayDeadLetters(dead.slice(0, 1), {
      deadLetters: h.pipeline.deadLetters,
      queues: slowQueues,
      runs: h.pipeline.runs,
    });
    expect(replay.replayed).toHaveLength(1);
    await replayDeadLetters(dead.slice(1), h.pipeline);
    const done = await h.waitForRun(run.runId);
    expect(done.counts.provisioned).toBe(5);
    expect(await h.pipeline.deadLetters.list({ runId: run.runId })).toHaveLength(0);
    expect(await h.pipeline.deadLetters.purge({ runId: run.runId })).toBe(0);
  }, 120_000);
});
