import type { Credential } from '../../lib/doorflow/types.ts';
import type { Queues } from '../../lib/jobs/registry.ts';
import type { CredentialStore } from '../../lib/store/credentials.ts';
import { requestRevocation } from '../lifecycle/schedule.ts';

/**
 * Licence reclaim (`reclaim --older-than 14d`; callable by an expiry policy): HID invitations
 * nobody redeemed — DoorFlow still says `invited` — older than a cutoff are revoked to free their
 * licences. DoorFlow's listing decides the status (our record may lag a missed webhook), so a
 * redeemed pass is never revoked; the age is when we saw it invited, else DoorFlow's `created_at`,
 * and a credential of unknown age is left alone.
 */

export interface ReclaimCandidate {
  personId: number;
  credentialId: string;
  invitedAt: number;
  systemId?: string | undefined;
}

export async function reclaimCandidates(
  listing: Iterable<Credential>,
  hidTypeId: number,
  credentials: Pick<CredentialStore, 'get'>,
  cutoffMs: number,
): Promise<ReclaimCandidate[]> {
  const out: ReclaimCandidate[] = [];
  for (const c of listing) {
    if (c.credential_type_id !== hidTypeId || (c.status ?? 'invited') !== 'invited') continue;
    const record = await credentials.get(c.id);
    const created = typeof c.created_at === 'string' ? Date.parse(c.created_at) : Number.NaN;
    const invitedAt = record?.status === 'invited' && record.since ? record.since : created;
    if (!Number.isFinite(invitedAt) || invitedAt >= cutoffMs) continue;
    out.push({ personId: c.person_id, credentialId: c.id, invitedAt, systemId: record?.systemId });
  }
  return out.sort((a, b) => a.invitedAt - b.invitedAt);
}

/** Queues one revocation per candidate (a worker performs it); returns the job ids. */
export async function requestReclaim(
  queues: Queues,
  candidates: readonly ReclaimCandidate[],
  requestId: string,
  requestedBy: string,
): Promise<string[]> {
  const ids: string[] = [];
  for (const c of candidates) {
    ids.push(
      await requestRevocation(queues, {
        personId: c.personId,
        credentialId: c.credentialId,
        reason: 'reclaim',
        requestedBy,
        requestId,
        ...(c.systemId ? { systemId: c.systemId } : {}),
      }),
    );
  }
  return ids;
}
