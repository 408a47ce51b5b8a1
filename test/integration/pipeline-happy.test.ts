import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

describe('pipeline: happy path', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('provisions every entry once: one person, one live credential, one verified webhook delivery', async () => {
    h = await startHarness();
    await h.startWorkers();
    const run = await intake(h.pipeline.intakeDeps(), { source: 'test', delivery: 'webhook' }, roster(50));
    expect(run.accepted).toBe(50);
    const finished = await h.waitForRun(run.runId);
    expect(finished.counts.provisioned).toBe(50);
    expect(finished.dead).toBe(0);
    const stats = h.sim.stats();
    expect(stats.people).toBe(50);
    expect(stats.credentials.invited).toBe(50);
    expect(stats.duplicates).toEqual({ peopleBySystemId: 0, peopleByEmail: 0, liveHidCredentials: 0 });
    expect(h.receiver.accepted).toHaveLength(50);
    expect(h.receiver.rejected()).toBe(0);
    expect([...h.receiver.countsByCredential().values()].every((n) => n === 1)).toBe(true);
    expect(h.receiver.accepted.every((d) => d.hasCode)).toBe(true);
    const entries = await h.pipeline.runs.entries(run.runId);
    expect(entries.every((e) => e.status === 'provisioned')).toBe(true);
  });
});
