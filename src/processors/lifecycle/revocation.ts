import type { Credential } from '../../lib/doorflow/types.ts';
import { LIVE_CREDENTIAL_STATUSES } from '../../lib/doorflow/types.ts';
import type { RevocationPayload } from '../../lib/jobs/lifecycle-payloads.ts';
import { defineProcessor } from '../../lib/jobs/define-processor.ts';
import type { JobContext, ProcessorDeps } from '../context.ts';
import { isNotFound, revokeOne } from './track.ts';

/**
 * Revoke a person's live HID Mobile Access credentials (or one of them): DELETE each → 202 →
 * `revoking`. Confirmation (`revoked`) comes later by webhook or poll; nothing reports a
 * credential revoked before that. Revoking what is already revoking/revoked sends nothing.
 * Used by `revoke`, sync offboarding and the expiry policy.
 */

export const revocationProcessor = defineProcessor('revocation', handle);

export interface RevocationSummary {
  revoking: string[];
  revoked: string[];
  already: string[];
}

async function handle(
  p: RevocationPayload,
  deps: ProcessorDeps,
  ctx: JobContext,
): Promise<RevocationSummary> {
  let targets: Credential[];
  if (p.credentialId) {
    try {
      targets = [await deps.doorflow.getCredential(p.personId, p.credentialId, { signal: ctx.signal })];
    } catch (err) {
      if (!isNotFound(err)) throw err;
      targets = [];
    }
  } else {
    const hid = await deps.hidCredentialTypeId();
    targets = (await deps.doorflow.listPersonCredentials(p.personId, { signal: ctx.signal })).filter(
      (c) => c.credential_type_id === hid,
    );
  }
  const summary: RevocationSummary = { revoking: [], revoked: [], already: [] };
  for (const credential of targets) {
    await deps.credentials.setMeta(credential.id, {
      personId: p.personId,
      ...(p.systemId ? { systemId: p.systemId } : {}),
    });
    const live = LIVE_CREDENTIAL_STATUSES.has(credential.status ?? '');
    if (!live && credential.status !== 'revoking' && credential.status !== 'revoked') {
      summary.already.push(credential.id);
      continue;
    }
    const outcome = await revokeOne(deps, p.personId, credential, p.reason, ctx.signal);
    if (outcome === 'revoking') summary.revoking.push(credential.id);
    else if (outcome === 'already') summary.already.push(credential.id);
    else summary.revoked.push(credential.id);
  }
  ctx.logger.info(
    { personId: p.personId, revoking: summary.revoking.length, already: summary.already.length },
    'revocation requested',
  );
  return summary;
}
