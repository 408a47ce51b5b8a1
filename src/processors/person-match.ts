import { ProvisionerError } from '../lib/core/errors.ts';
import type { Person, PersonInput } from '../lib/doorflow/types.ts';
import type { PersonSnapshot } from '../lib/store/people-index.ts';
import { changedPersonFields, fieldText } from '../lib/roster/person-fields.ts';
import type { RosterEntry } from '../lib/roster/entry.ts';
import { lookupSystemId } from '../lib/roster/email-policy.ts';

/** Pure matching and diffing for the person step (unit-tested). */

/**
 * The person fields a roster entry maps to (only those the entry carries). The email only when
 * `withEmail` (see email-policy.ts); the system_id is the entry's own, else one derived from its
 * roster key, so look-up-before-create works whether DoorFlow holds the email or not.
 */
export function personInputFor(entry: RosterEntry, withEmail = true): PersonInput {
  const input: PersonInput = { first_name: entry.first_name, last_name: entry.last_name };
  if (withEmail && entry.email !== undefined) input.email = entry.email;
  input.system_id = lookupSystemId(entry);
  if (entry.mobile !== undefined) input.mobile = entry.mobile;
  if (entry.department !== undefined) input.department = entry.department;
  if (entry.job_title !== undefined) input.job_title = entry.job_title;
  if (entry.group_ids !== undefined) input.group_ids = entry.group_ids;
  return input;
}

/** The mapped fields that differ (email compared case-insensitively, groups as a set); undefined if none. */
export function fieldsToUpdate(
  entry: RosterEntry,
  current: PersonSnapshot,
  withEmail = true,
): PersonInput | undefined {
  return changedPersonFields(entry, current, current.group_ids ?? [], withEmail);
}

/** DoorFlow's email filter is partial and case-insensitive: keep exact matches only, oldest first. */
export function exactEmailMatches<T extends { id: number; email?: string | null }>(
  people: T[],
  email: string,
): T[] {
  const wanted = email.trim().toLowerCase();
  return people.filter((p) => (p.email ?? '').trim().toLowerCase() === wanted).sort((a, b) => a.id - b.id);
}

export function exactSystemIdMatches<T extends { id: number; system_id?: string | null }>(
  people: T[],
  systemId: string,
): T[] {
  return people.filter((p) => (p.system_id ?? '').trim() === systemId.trim()).sort((a, b) => a.id - b.id);
}

/**
 * Which existing person is this entry: the `system_id` match wins; else an exact email match,
 * unless that person carries a different `system_id` (someone else holds the email: permanent).
 */
export function chooseExisting<T extends PersonSnapshot | Person>(
  entry: RosterEntry,
  bySystemId: T | undefined,
  byEmail: T | undefined,
): T | undefined {
  if (bySystemId) return bySystemId;
  if (!byEmail) return undefined;
  const other = fieldText(byEmail.system_id);
  if (entry.system_id && other && other !== entry.system_id.trim()) {
    throw new ProvisionerError(
      'email_conflict',
      `person ${byEmail.id} already has this email with a different system_id`,
      { retryable: false },
    );
  }
  return byEmail;
}
