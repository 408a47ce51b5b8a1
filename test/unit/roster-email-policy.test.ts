import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/core/config.ts';
import type { Person } from '../../src/lib/doorflow/types.ts';
import { rosterKey } from '../../src/lib/roster/entry.ts';
import type { RosterEntry } from '../../src/lib/roster/entry.ts';
import { derivedSystemId, doorflowGetsEmail, lookupSystemId } from '../../src/lib/roster/email-policy.ts';
import { snapshotOf } from '../../src/lib/store/people-index.ts';
import { fieldsToUpdate, personInputFor } from '../../src/processors/person-match.ts';
import { buildSyncPlan } from '../../src/producers/sync/plan.ts';

/** Issue 13 §3: one invitation per person (DoorFlow's Approach 2). */

const emailOnly: RosterEntry = {
  key: 'email:ada@example.test',
  first_name: 'Ada',
  last_name: 'Lovelace',
  email: 'ada@example.test',
};

describe('DOORFLOW_SEND_EMAIL', () => {
  it('auto gives DoorFlow the email only when DoorFlow delivers the code', () => {
    expect(doorflowGetsEmail('auto', 'doorflow')).toBe(true);
    for (const channel of ['email', 'sms', 'webhook'] as const) {
      expect(doorflowGetsEmail('auto', channel)).toBe(false);
      expect(doorflowGetsEmail('always', channel)).toBe(true);
    }
    expect(doorflowGetsEmail('never', 'doorflow')).toBe(false);
  });

  it('is parsed with default auto and refuses other words', () => {
    expect(loadConfig({}).doorflow.sendEmail).toBe('auto');
    expect(loadConfig({ DOORFLOW_SEND_EMAIL: 'never' }).doorflow.sendEmail).toBe('never');
    expect(() => loadConfig({ DOORFLOW_SEND_EMAIL: 'sometimes' })).toThrow(/DOORFLOW_SEND_EMAIL/);
  });

  it('the create body carries the email only when DoorFlow gets it', () => {
    expect(personInputFor(emailOnly, true).email).toBe('ada@example.test');
    expect(personInputFor(emailOnly, false)).not.toHaveProperty('email');
  });

  it('a withheld email is no change to push (the nightly sync stays at ~0 writes)', () => {
    const current = snapshotOf({
      id: 1,
      first_name: 'Ada',
      last_name: 'Lovelace',
      email: null,
      system_id: derivedSystemId(emailOnly.key),
    });
    expect(fieldsToUpdate(emailOnly, current, false)).toBeUndefined();
    expect(fieldsToUpdate(emailOnly, current, true)).toEqual({ email: 'ada@example.test' });
  });
});

describe('derived system_id', () => {
  it('is stable for a key and kept out of the way of real ones', () => {
    const sid = derivedSystemId('email:ada@example.test');
    expect(sid).toBe(derivedSystemId('email:ada@example.test'));
    expect(sid).toMatch(/^rk-[0-9a-f]{24}$/);
    // The same person typed differently has the same roster key, so the same derived id.
    expect(derivedSystemId(rosterKey({ email: ' Ada@Example.TEST ' }) ?? '')).toBe(sid);
  });

  it('is injective over 100k distinct keys', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(derivedSystemId(`email:person${i}@example.test`));
    expect(seen.size).toBe(100_000);
  });

  it('is used only where the entry has no system_id of its own', () => {
    expect(lookupSystemId(emailOnly)).toBe(derivedSystemId(emailOnly.key));
    expect(lookupSystemId({ key: 'sid:007', system_id: '007' })).toBe('007');
    expect(personInputFor(emailOnly, false).system_id).toBe(derivedSystemId(emailOnly.key));
  });
});

describe('sync plan with the email withheld', () => {
  it('finds the person by the derived system_id: no create, no update, no offboard', () => {
    const person: Person = {
      id: 5,
      first_name: 'Ada',
      last_name: 'Lovelace',
      email: null,
      system_id: derivedSystemId(emailOnly.key),
      enabled: true,
    };
    const plan = buildSyncPlan({
      roster: [emailOnly],
      people: [person],
      credentials: [{ id: 'c5', person_id: 5, credential_type_id: 8, status: 'active' }],
      hidCredentialTypeId: 8,
      scope: { managedIds: new Set([5]) },
      sourceComplete: true,
      withEmail: () => false,
    });
    expect(plan.create).toEqual([]);
    expect(plan.update).toEqual([]);
    expect(plan.offboard).toEqual([]);
    expect(plan.unchanged).toBe(1);
  });
});
