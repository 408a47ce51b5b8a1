import { describe, expect, it } from 'vitest';
import { buildSyncPlan } from '../../src/producers/sync/plan.ts';
import { cred, entry, HID, input, person } from '../helpers/sync-plan-fixtures.ts';
import { describeDrift, planDrift } from '../../src/producers/sync/quarantine.ts';
import { sourceIdOf, sourceNameOf } from '../../src/producers/sync/sync.ts';

/** Source names, the offboarded-aware scope, the licence headroom check and plan drift: pure logic. */

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
describe('source names', () => {
  it('follow the source, not the file name: dated exports share one name', () => {
    expect(sourceNameOf({ source: 'csv', file: '/data/staff-2026-11-29.csv' })).toBe('csv');
    expect(sourceNameOf({ source: 'csv', file: '/data/staff-2026-11-30.csv' })).toBe('csv');
    expect(sourceNameOf({ source: 'csv', url: 'https://hr.example.com/export.csv?key=s3cret' })).toBe(
      'csv:hr.example.com',
    );
    expect(sourceNameOf({ source: 'json', url: 'https://feed.example.org/people' })).toBe(
      'json:feed.example.org',
    );
    expect(sourceNameOf({ source: 'bamboohr', company: 'acme' })).toBe('bamboohr:acme');
    expect(sourceNameOf({ source: 'csv', file: 'x.csv', sourceName: 'nightly-hr' })).toBe('nightly-hr');
    // The run's source still names the file (reports, the --out guard).
    expect(sourceIdOf({ source: 'csv', file: '/data/staff-2026-11-29.csv' })).toBe(
      'csv:/data/staff-2026-11-29.csv',
    );
  });
});

describe('scope and headroom', () => {
  it('people already offboarded do not count towards the --max-offboard N% scope', () => {
    // 100 in scope, 60 of them offboarded already (disabled, nothing live); 40 live, roster keeps 30.
    const people = range(1, 100).map((n) => person(n, n <= 60 ? { enabled: false } : {}));
    const credentials = range(61, 100).map((n) => cred(n));
    const plan = buildSyncPlan(
      input({
        roster: range(61, 90).map((n) => entry(n)),
        people,
        credentials,
        maxOffboard: { percent: 20 },
      }),
    );
    expect(plan.counts.scope).toBe(40);
    expect(plan.offboard).toHaveLength(10);
    // 20 % of 40 is 8, not 20 % of 100: the 10 leavers are refused.
    expect(plan.safety.maxOffboard).toBe(8);
    expect(plan.safety.ok).toBe(false);
  });

  it('a plan consuming more licences than are free is refused, with the numbers', () => {
    const headroom = { limit: 100, limitFrom: 'HID_LICENCE_LIMIT' as const, live: 95, free: 5 };
    const plan = buildSyncPlan(input({ roster: range(1, 8).map((n) => entry(n)), headroom }));
    expect(plan.licences).toMatchObject({ consume: 8, release: 0, headroom });
    expect(plan.safety.refusals).toEqual([
      '8 HID licences would be consumed (0 released), more than the 5 free (limit 100, 95 live)',
    ]);
    const fits = buildSyncPlan(input({ roster: range(1, 5).map((n) => entry(n)), headroom }));
    expect(fits.safety.ok).toBe(true);
  });
});

describe('plan drift', () => {
  const people = range(1, 10).map((n) => person(n));
  const credentials = range(1, 10).map((n) => cred(n));
  const plan = buildSyncPlan(
    input({ roster: range(1, 6).map((n) => entry(n)), people, credentials, force: true }),
  );

  it('nothing drifted: DoorFlow looks as the plan saw it', () => {
    expect(plan.offboard).toHaveLength(4);
    const drift = planDrift(plan, people, credentials, HID);
    expect(drift).toEqual({ offboard: 0, create: 0, update: 0 });
    expect(describeDrift(plan, drift)).toBeUndefined();
  });

  it('people offboarded or deleted by hand since are counted, with the numbers', () => {
    const now = people.filter((p) => p.id !== 7).map((p) => (p.id === 8 ? { ...p, enabled: false } : p));
    const creds = credentials.filter((c) => c.person_id !== 8);
    const drift = planDrift(plan, now, creds, HID);
    expect(drift).toEqual({ offboard: 2, create: 0, update: 0 });
    expect(describeDrift(plan, drift)).toBe(
      'DoorFlow has changed since the plan was made: 2 of 4 offboards no longer match it; reject it and sync again',
    );
  });
});
