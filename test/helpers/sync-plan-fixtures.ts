import type { Credential, Person } from '../../src/lib/doorflow/types.ts';
import type { SourceEntry } from '../../src/producers/sources/adapter.ts';
import type { PlanInput } from '../../src/producers/sync/plan.ts';

/** People, roster entries and credentials for sync plan unit tests (system ids `HR-n`, HID type 8). */

export const HID = 8;

export function person(n: number, extra: Partial<Person> = {}): Person {
  return {
    id: n,
    first_name: `F${n}`,
    last_name: `L${n}`,
    email: `p${n}@example.com`,
    system_id: `HR-${n}`,
    department: 'Ops',
    enabled: true,
    ...extra,
  };
}
export function entry(n: number, extra: Partial<SourceEntry> = {}): SourceEntry {
  return {
    key: `sid:HR-${n}`,
    system_id: `HR-${n}`,
    first_name: `F${n}`,
    last_name: `L${n}`,
    email: `p${n}@example.com`,
    department: 'Ops',
    ...extra,
  };
}
export function cred(personId: number, status = 'active', type = HID): Credential {
  return { id: `c${personId}-${status}`, person_id: personId, credential_type_id: type, status };
}

export function input(partial: Partial<PlanInput>): PlanInput {
  return {
    roster: [],
    people: [],
    credentials: [],
    hidCredentialTypeId: HID,
    scope: { prefix: 'HR-', managedIds: new Set() },
    sourceComplete: true,
    ...partial,
  };
}
