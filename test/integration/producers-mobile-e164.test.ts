import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

/**
 * Every source (CSV, BambooHR, JSON feed, sync) hands its rows to intake, which validates each one:
 * DoorFlow receives mobiles in E.164 only, and one that cannot be normalised is refused with its line.
 */
describe('intake: mobiles sent to DoorFlow are E.164', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('normalises what it can, refuses the rest with its line; DoorFlow sees only E.164', async () => {
    h = await startHarness();
    await h.startWorkers();
    const row = (n: number, mobile: string) => ({
      system_id: `M${n}`,
      first_name: 'Mo',
      last_name: `Bile${n}`,
      email: `m${n}@example.test`,
      mobile,
      line: n + 1,
    });
    const rows = [
      row(1, '+44 7700 900123'),
      row(2, '020 7946 0958'),
      row(3, 'ext 42'),
      row(4, '+1 (415) 555-0134'),
    ];
    const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, rows);
    expect(run.rejected.map((r) => [r.line, r.code])).toEqual([
      [3, 'invalid_mobile'],
      [4, 'invalid_mobile'],
    ]);
    const done = await h.waitForRun(run.runId);
    expect(done.counts.provisioned).toBe(2);
    const mobiles = h.sim
      .people()
      .map((p) => p.mobile)
      .sort();
    expect(mobiles).toEqual(['+14155550134', '+447700900123']);
    expect(mobiles.every((m) => /^\+[1-9]\d{6,14}$/.test(m ?? ''))).toBe(true);
  });
});
