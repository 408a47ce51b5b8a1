import { createHash } from 'node:crypto';
import type { Config } from '../core/config.ts';
import type { DeliveryChannelName } from '../delivery/channel-names.ts';
import type { RosterEntry } from './entry.ts';

/**
 * One invitation per person (DoorFlow's "Approach 2"): DoorFlow emails the invitation itself to
 * any person it holds an email for, so when we deliver the code ourselves (email, SMS, webhook)
 * the person is created without one. Matching then rests on `system_id`; entries without one
 * get a stable one derived from their roster key.
 */

/** `DOORFLOW_SEND_EMAIL`: `auto` (only when DoorFlow delivers the code), `always`, `never`. */
export type SendEmailMode = Config['doorflow']['sendEmail'];

/** Whether a person delivered through `channel` gets their email in DoorFlow. */
export function doorflowGetsEmail(mode: SendEmailMode, channel: DeliveryChannelName): boolean {
  if (mode === 'always') return true;
  if (mode === 'never') return false;
  return channel === 'doorflow';
}

/** Prefix of derived system_ids (`rk-` + 24 hex digits of SHA-256 over the roster key). */
const DERIVED_SYSTEM_ID_PREFIX = 'rk-';

/**
 * The `system_id` for an entry that has none: a hash of its roster key, so the same person
 * (same email) gets the same id on every import, replay and sync. 96 bits: collisions between
 * distinct keys are out of reach for any roster.
 */
export function derivedSystemId(rosterKey: string): string {
  const digest = createHash('sha256').update(`doorflow-provisioner:${rosterKey}`).digest('hex');
  return `${DERIVED_SYSTEM_ID_PREFIX}${digest.slice(0, 24)}`;
}

/** The system_id the person step creates and looks up with: the entry's own, else the derived one. */
export function lookupSystemId(entry: Pick<RosterEntry, 'key' | 'system_id'>): string {
  return entry.system_id ?? derivedSystemId(entry.key);
}
