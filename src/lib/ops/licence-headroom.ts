import { type Credential, LIVE_CREDENTIAL_STATUSES } from '../doorflow/types.ts';
import type { LicenceStore } from '../store/licences.ts';

/**
 * HID licence headroom: the account's limit (HID_LICENCE_LIMIT, else the one learned at DoorFlow's
 * first `limit_reached`) minus the live HID credentials (invited, provisioning, active: each holds
 * a licence until revoked). Plans and imports show it and refuse to go past it; undefined when no
 * limit is known.
 */
export interface Headroom {
  limit: number;
  /** Where the limit comes from. */
  limitFrom: 'HID_LICENCE_LIMIT' | 'learned';
  live: number;
  /** Licences left (never negative). */
  free: number;
}

/** Live HID credentials among a listing: the licences in use. */
export function countLiveHid(credentials: Iterable<Credential>, hidTypeId: number): number {
  let live = 0;
  for (const c of credentials) {
    if (c.credential_type_id === hidTypeId && LIVE_CREDENTIAL_STATUSES.has(String(c.status ?? 'invited')))
      live += 1;
  }
  return live;
}

export async function licenceHeadroom(
  configured: number | undefined,
  licences: Pick<LicenceStore, 'learned'>,
  live: number,
): Promise<Headroom | undefined> {
  const learned = configured === undefined ? await licences.learned() : undefined;
  const limit = configured ?? learned;
  if (limit === undefined) return undefined;
  return {
    limit,
    limitFrom: configured !== undefined ? 'HID_LICENCE_LIMIT' : 'learned',
    live,
    free: Math.max(0, limit - live),
  };
}

/** `headroom 100 of 5000 HID licences (4900 live; HID_LICENCE_LIMIT)` */
export function describeHeadroom(h: Headroom): string {
  return `licence headroom: ${h.free} of ${h.limit} HID licences free (${h.live} live; limit ${h.limitFrom === 'learned' ? "learned from DoorFlow's first limit_reached" : 'HID_LICENCE_LIMIT'})`;
}
