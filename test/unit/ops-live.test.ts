import { describe, expect, it } from 'vitest';
import { formatLive, snapshotOf } from '../../src/lib/ops/run-live.ts';
import type { RunRecord } from '../../src/lib/store/runs.ts';

/** The live figures from counters and the per-minute series: pace, ETA, per-step progress, failures. */

const START = Date.UTC(2026, 11, 7, 9, 0, 0);
const minute = (m: number) => Math.floor(START / 60_000) + m;

function run(over: Partial<RunRecord> = {}): RunRecord {
  return {
    id: 'r1',
    createdAt: START,
    source: 'event.csv',
    delivery: 'webhook',
    intake: 'closed',
    finishedAt: undefined,
    cancelledAt: undefined,
    total: 1000,
    counts: { person: 400, provisioned: 560, 'dead:credential': 30, invalid: 10 },
    done: { person: 590, credential: 560, invitation: 560, 'delivery-webhook': 560 },
    retries: {},
    dead: 30,
    failures: { licence_limit: 30, invalid_entry: 10 },
    ...over,
  };
}

describe('live run figures', () => {
  it('pace over the last five minutes, the ETA at that pace, progress per step, failures by code', () => {
    const series = {
      [`${minute(0)}|provisioned`]: '60',
      [`${minute(1)}|provisioned`]: '100',
      [`${minute(2)}|provisioned`]: '100',
      [`${minute(3)}|provisioned`]: '100',
      [`${minute(4)}|provisioned`]: '100',
      [`${minute(5)}|provisioned`]: '100',
      [`${minute(5)}|fail|licence_limit`]: '30',
      [`${minute(0)}|fail|invalid_entry`]: '10',
    };
    // Half-way through minute 5: the window is minutes 1..5, 4.5 minutes long.
    const s = snapshotOf(run(), series, {
      now: START + 5.5 * 60_000,
      requestsPerSecond: 7,
      budgetPerSecond: 10,
    });
    expect(s.settled).toBe(600);
    expect(s.peoplePerMinute).toBeCloseTo(530 / 4.5, 1);
    expect(s.etaSeconds).toBe(Math.round((400 / (530 / 4.5)) * 60));
    expect(s.steps.find((x) => x.step === 'person')).toEqual({ step: 'person', done: 590, total: 990 });
    expect(s.series.minutes).toHaveLength(6);
    expect(s.series.settled).toEqual([70, 100, 100, 100, 100, 130]);
    expect(s.series.failures).toEqual({
      licence_limit: [0, 0, 0, 0, 0, 30],
      invalid_entry: [10, 0, 0, 0, 0, 0],
    });
    const text = formatLive(s);
    expect(text).toContain('600/1000 settled');
    expect(text).toContain('DoorFlow 7/10 requests/s');
    expect(text).toMatch(/ETA \d+ min/);
    expect(text).toContain('failures: licence_limit 30, invalid_entry 10');
  });

  it('a finished run has no ETA; nothing settled yet means the ETA is unknown', () => {
    const done = snapshotOf(
      run({ finishedAt: START + 60_000 }),
      {},
      { now: START + 120_000, requestsPerSecond: 0, budgetPerSecond: 10 },
    );
    expect(done.etaSeconds).toBeNull();
    expect(formatLive(done)).toContain('finished');
    const fresh = snapshotOf(
      run({ counts: { person: 1000 }, done: {}, dead: 0, failures: {} }),
      {},
      { now: START + 1000, requestsPerSecond: 0, budgetPerSecond: 10 },
    );
    expect(fresh.etaSeconds).toBeNull();
    expect(formatLive(fresh)).toContain('ETA unknown');
  });
});
