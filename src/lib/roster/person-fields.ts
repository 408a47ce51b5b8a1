import type { PersonInput } from '../doorflow/types.ts';
import type { PersonSnapshot } from '../store/people-index.ts';
import type { RosterEntry } from './entry.ts';

/**
 * The one rule for "does this DoorFlow person still match the roster entry", shared by the
 * pipeline's person step (processors/person-match.ts) and roster sync planning
 * (producers/sync-plan.ts), so an update the sync plans is the update the pipeline makes.
 */

/** The person fields compared as text; DoorFlow may send null where the roster has nothing. */
export type ComparablePerson = Omit<PersonSnapshot, 'id' | 'group_ids'>;

/** A field as compared: trimmed text, `''` for null or absent. */
export const fieldText = (v: unknown): string =>
  typeof v === 'string' ? v.trim() : v == null ? '' : String(v);

/**
 * The mapped fields that differ: only fields the entry carries; email compared
 * case-insensitively, and not at all when `withEmail` is false (the email is withheld from
 * DoorFlow, see email-policy.ts: its absence there is no change); groups as a set against
 * `currentGroupIds`. Undefined if none.
 */
export function changedPersonFields(
  entry: RosterEntry,
  current: ComparablePerson,
  currentGroupIds: readonly number[],
  withEmail = true,
): PersonInput | undefined {
  const changes: PersonInput = {};
  let changed = false;
  for (const field of [
    'first_name',
    'last_name',
    'system_id',
    'mobile',
    'department',
    'job_title',
  ] as const) {
    const wanted = entry[field];
    if (wanted === undefined) continue;
    if (fieldText(wanted) !== fieldText(current[field])) {
      changes[field] = wanted;
      changed = true;
    }
  }
  if (
    withEmail &&
    entry.email !== undefined &&
    fieldText(entry.email).toLowerCase() !== fieldText(current.email).toLowerCase()
  ) {
    changes.email = entry.email;
    changed = true;
  }
  if (entry.group_ids !== undefined) {
    const have = new Set(currentGroupIds);
    const want = new Set(entry.group_ids);
    if (have.size !== want.size || [...want].some((g) => !have.has(g))) {
      changes.group_ids = entry.group_ids;
      changed = true;
    }
  }
  return changed ? changes : undefined;
}
