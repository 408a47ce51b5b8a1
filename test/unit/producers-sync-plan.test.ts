import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { snapshotOf } from '../../src/lib/store/people-index.ts';
import type { RosterEntry } from '../../src/lib/roster/entry.ts';
import { fieldsToUpdate } from '../../src/processors/person-match.ts';
import type { Person } from '../../src/lib/doorflow/types.ts';
import type { SourceEntry } from '../../src/producers/sources/adapter.ts';
import { cred, entry, HID, input, person } from '../helpers/sync-plan-fixtures.ts';
import {
  buildSyncPlan,
  offboardThreshold,
  parseOffboardLimit,
  personChanges,
} from '../../src/producers/sync/plan.ts';

describe('sync plan', () => {
  // 200 current staff with live passes; the roster keeps 1..170, moves 171..190, drops 191..200,
  // adds 1001..1100 joiners and lists 161..170 as terminated.
  const people = Array.from({ length: 200 }, (_, i) => person(i + 1));
  const credentials = people.map((p) => cred(p.id));
  const roster: SourceEntry[] = [
    ...Array.from({ length: 160 }, (_, i) => entry(i + 1)),
    ...Array.from({ length: 10 }, (_, i) => entry(i + 161, { active: false })),
    ...Array.from({ length: 20 }, (_, i) => entry(i + 171, { department: 'Sales', job_title: 'Rep' })),
    ...Array.from({ length: 100 }, (_, i) => entry(i + 1001)),
  ];

  it('classifies joiners, movers, leavers and unchanged people, and counts licences', () => {
    const plan = buildSyncPlan(input({ roster, people, credentials }));
    expect(plan.create.map((c) => c.key)).toEqual(roster.slice(190).map((e) => e.key));
    expect(plan.update.map((u) => u.personId)).toEqual(Array.from({ length: 20 }, (_, i) => i + 171));
    expect(plan.update[0]?.changes).toEqual({ department: 'Sales', job_title: 'Rep' });
    expect(plan.offboard.map((o) => [o.personId, o.reason])).toEqual([
      ...Array.from({ length: 10 }, (_, i) => [i + 161, 'inactive']),
      ...Array.from({ length: 10 }, (_, i) => [i + 191, 'absent']),
    ]);
    expect(plan.offboard[0]).toMatchObject({
      credentialIds: ['c161-active'],
      disable: true,
      name: 'F161 L161',
    });
    expect(plan.unchanged).toBe(160);
    expect(plan.licences).toEqual({ consume: 100, release: 20 });
    expect(plan.counts).toMatchObject({ source: 290, active: 280, inactive: 10, scope: 200 });
    expect(plan.safety).toMatchObject({ ok: true, maxOffboard: 25, refusals: [] });
  });

  it('only offboards people in scope (prefix or created by this tool) and revokes pending invitations too', () => {
    const outside = person(900, { system_id: 'CONTRACTOR-1' });
    const managed = person(901, { system_id: null, email: 'made@example.com' });
    const plan = buildSyncPlan(
      input({
        roster: [entry(1)],
        people: [person(1), person(2), outside, managed],
        credentials: [cred(1), cred(2, 'invited'), cred(2, 'revoked'), cred(900), cred(901, 'provisioning')],
        scope: { prefix: 'HR-', managedIds: new Set([901]) },
      }),
    );
    expect(plan.offboard.map((o) => [o.personId, o.credentialIds, o.key])).toEqual([
      [2, ['c2-invited'], 'sid:HR-2'],
      [901, ['c901-provisioning'], 'email:made@example.com'],
    ]);
    expect(plan.counts.scope).toBe(3);
  });

  it('never offboards when the feed is incremental, or when the absent person had an invalid row', () => {
    const base = {
      roster: [entry(1)],
      people: [person(1), person(2), person(3)],
      credentials: [cred(2), cred(3)],
    };
    expect(buildSyncPlan(input({ ...base, sourceComplete: false })).offboard).toEqual([]);
    const plan = buildSyncPlan(input({ ...base, problemKeys: new Set(['sid:HR-2']) }));
    expect(plan.offboard.map((o) => o.personId)).toEqual([3]);
    expect(plan.keptInvalid).toBe(1);
  });

  it('skips leavers already offboarded and re-enables a rehire', () => {
    const plan = buildSyncPlan(
      input({
        roster: [entry(1)],
        people: [person(1, { enabled: false }), person(2, { enabled: false })],
        credentials: [],
      }),
    );
    expect(plan.offboard).toEqual([]);
    expect(plan.alreadyOffboarded).toBe(1);
    expect(plan.create).toEqual([expect.objectContaining({ key: 'sid:HR-1', personId: 1, reenable: true })]);
  });

  it('refuses zero entries, a truncated feed and too many offboards unless forced, explaining the numbers', () => {
    const many = Array.from({ length: 100 }, (_, i) => person(i + 1));
    const creds = many.map((p) => cred(p.id));
    const empty = buildSyncPlan(input({ people: many, credentials: creds }));
    expect(empty.safety.ok).toBe(false);
    expect(empty.safety.refusals[0]).toMatch(/zero entries; with 100 people in scope/);
    expect(empty.safety.refusals[1]).toMatch(/100 people would be offboarded, more than --max-offboard 25/);

    const half = Array.from({ length: 40 }, (_, i) => entry(i + 1));
    const truncated = buildSyncPlan(
      input({
        roster: half,
        people: many,
        credentials: creds,
        previousCount: 100,
        maxOffboard: { percent: 80 },
      }),
    );
    expect(truncated.safety.refusals).toEqual([
      "the source returned 40 entries, fewer than half of the previous sync's 100 (a truncated feed?)",
    ]);
    const forced = buildSyncPlan(
      input({ roster: half, people: many, credentials: creds, previousCount: 100, force: true }),
    );
    expect(forced.safety).toMatchObject({ ok: true, forced: true });
    expect(forced.offboard).toHaveLength(60);
  });

  it('parses --max-offboard as N or P%', () => {
    expect(parseOffboardLimit('10')).toEqual({ count: 10 });
    expect(parseOffboardLimit('2.5%')).toEqual({ percent: 2.5 });
    expect(() => parseOffboardLimit('ten')).toThrow(/expected N or P%/);
    expect(offboardThreshold(undefined, 100)).toBe(25);
    expect(offboardThreshold(undefined, 1000)).toBe(50);
    expect(offboardThreshold({ percent: 10 }, 1000)).toBe(100);
  });

  it('diffs a person exactly as the pipeline person step does (property)', () => {
    const value = fc.option(fc.constantFrom('A', 'a', ' A ', 'B', 'x@y.co', 'X@Y.CO'), { nil: undefined });
    fc.assert(
      fc.property(
        fc.record({ first_name: value, department: value, job_title: value, email: value, mobile: value }),
        fc.record({ first_name: value, department: value, job_title: value, email: value, mobile: value }),
        fc.option(fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 3 }), { nil: undefined }),
        fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 3 }),
        (e, p, wantGroups, haveGroups) => {
          const rosterEntry: RosterEntry = {
            key: 'sid:1',
            system_id: '1',
            first_name: e.first_name ?? 'N',
            last_name: 'L',
          };
          for (const f of ['department', 'job_title', 'email', 'mobile'] as const)
            if (e[f]) rosterEntry[f] = e[f];
          if (wantGroups) rosterEntry.group_ids = wantGroups;
          const doorflowPerson: Person = {
            id: 1,
            first_name: p.first_name ?? 'N',
            last_name: 'L',
            system_id: '1',
            group_ids: haveGroups,
          };
          for (const f of ['department', 'job_title', 'email', 'mobile'] as const)
            doorflowPerson[f] = p[f] ?? null;
          expect(personChanges(rosterEntry, doorflowPerson)).toEqual(
            fieldsToUpdate(rosterEntry, snapshotOf(doorflowPerson)),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
