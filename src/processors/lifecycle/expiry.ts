import type { ExpiryPayload } from '../../lib/jobs/lifecycle-payloads.ts';
import { plural } from '../../lib/core/plural.ts';
import { defineProcessor } from '../../lib/jobs/define-processor.ts';
import { encodeKey } from '../../lib/jobs/registry.ts';
import type { JobContext, ProcessorDeps } from '../context.ts';
import { alert, notYetDue, refreshStatus, revokeOne } from './track.ts';

/**
 * An invitation reached INVITATION_TTL (default 7 days) or DoorFlow's `invitation_expires_at`
 * unaccepted. EXPIRY_POLICY decides: `reissue` (revoke + new invitation + deliver, at most
 * REISSUE_MAX times per chain; past that it revokes and alerts), `revoke` (frees the licence), or
 * `alert` (a person decides). Unused codes are temporary passwords: expire them.
 */

export const expiryProcessor = defineProcessor('expiry', handle);

/** Unaccepted invitations: still `invited` at our deadline, or already `expired` by DoorFlow. */
const EXPIRABLE: ReadonlySet<string> = new Set(['invited', 'expired']);

async function handle(p: ExpiryPayload, deps: ProcessorDeps, ctx: JobContext): Promise<string> {
  const early = await notYetDue(p.dueAt, deps, ctx);
  if (early) throw early;
  const record = await deps.credentials.get(p.credentialId);
  if (!record || !EXPIRABLE.has(record.status ?? '')) return 'moot';
  const { credential, status } = await refreshStatus(deps, p.personId, p.credentialId, 'poll', ctx.signal);
  if (!EXPIRABLE.has(status) || !credential) return 'moot';
  await deps.codes.drop(p.credentialId);

  const { expiryPolicy, reissueMax } = deps.config.lifecycle;
  const base = {
    credentialId: p.credentialId,
    personId: p.personId,
    details: { systemId: record.systemId ?? null },
  };
  if (expiryPolicy === 'alert') {
    await alert(deps, {
      ...base,
      kind: 'invitation_expired',
      dedupeKey: p.credentialId,
      message: 'invitation expired unaccepted: remind, resend or contact the person',
    });
    return 'alerted';
  }
  if (expiryPolicy === 'revoke' || record.reissues >= reissueMax) {
    const outcome = await revokeOne(deps, p.personId, credential, 'expiry', ctx.signal);
    if (expiryPolicy === 'reissue') {
      await alert(deps, {
        ...base,
        kind: 'reissue_limit',
        dedupeKey: p.credentialId,
        message: `invitation expired again after ${plural(record.reissues, 'reissue')}: revoked; contact the person`,
      });
    }
    return `revoked:${outcome}`;
  }
  await deps.queues.add(
    'reissue',
    {
      personId: p.personId,
      oldCredentialId: p.credentialId,
      channel: (record.channel ?? 'doorflow') as 'doorflow' | 'webhook' | 'email' | 'sms',
      reason: 'expired',
      requestedBy: 'expiry',
    },
    { jobId: `reissue--${encodeKey(p.credentialId)}` },
  );
  return 'reissue_queued';
}
