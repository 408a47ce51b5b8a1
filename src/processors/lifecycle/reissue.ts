import { encryptSecret } from '../../lib/core/crypto.ts';
import type { Credential } from '../../lib/doorflow/types.ts';
import { LIVE_CREDENTIAL_STATUSES } from '../../lib/doorflow/types.ts';
import { ProvisionerError } from '../../lib/core/errors.ts';
import type { ReissuePayload } from '../../lib/jobs/lifecycle-payloads.ts';
import { defineProcessor } from '../../lib/jobs/define-processor.ts';
import { startTracking } from './schedule.ts';
import type { JobContext, ProcessorDeps } from '../context.ts';
import { isNotFound, lifecycleDeps, recipientOf, revokeOne } from './track.ts';

/**
 * Replace a credential (new phone, or an expired invitation under EXPIRY_POLICY=reissue):
 * revoke the old one, create a new one, deliver its code through the same channel. HID has no
 * transfer between devices. Each step is idempotent: the new credential's id is remembered under
 * `reissue:{oldId}` as soon as it exists (and a lost create response is recovered by DoorFlow's
 * 409, which returns the existing credential), and the delivery is recorded once sent — so a
 * retried or repeated reissue never creates a second new credential nor sends twice.
 */

export const reissueProcessor = defineProcessor('reissue', handle);

const MARKER_TTL_SEC = 90 * 86_400;

async function handle(p: ReissuePayload, deps: ProcessorDeps, ctx: JobContext): Promise<string> {
  const signal = ctx.signal;
  const old = await deps.credentials.get(p.oldCredentialId);

  // 1. Revoke the old credential (no-op when already revoking/revoked/gone).
  try {
    const current = await deps.doorflow.getCredential(p.personId, p.oldCredentialId, { signal });
    await revokeOne(deps, p.personId, current, p.reason, signal);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }

  // 2. The new credential: remembered, or created now.
  const markerKey = deps.keys.reissueMarker(p.oldCredentialId);
  let newId = (await deps.redis.get(markerKey)) ?? undefined;
  let fresh: Credential | undefined;
  if (!newId) {
    const typeId = await deps.hidCredentialTypeId();
    const { credential } = await deps.doorflow.createCredential(
      p.personId,
      { credential_type_id: typeId },
      { signal },
    );
    if (
      credential.id === p.oldCredentialId ||
      !LIVE_CREDENTIAL_STATUSES.has(credential.status ?? 'invited')
    ) {
      // DoorFlow still counts the old one (revocation in progress): try again after backoff.
      throw new ProvisionerError('old_credential_blocking', 'the old credential still blocks a new one', {
        retryable: true,
      });
    }
    newId = credential.id;
    fresh = credential;
    await deps.redis.set(markerKey, newId, 'EX', MARKER_TTL_SEC);
    await deps.credentials.setMeta(p.oldCredentialId, { replacedBy: newId, personId: p.personId });
    ctx.logger.info(
      { oldCredentialId: p.oldCredentialId, credentialId: newId },
      'replacement credential created',
    );
  }

  // 3. Deliver the new code (DoorFlow emails it itself on the doorflow channel).
  let encryptedCode: string | undefined;
  let expiresAt = fresh?.invitation_expires_at ?? null;
  let status = fresh?.status ?? 'invited';
  if (p.channel !== 'doorflow' && !(await deps.deliveries.find(newId, p.channel))) {
    const credential = fresh?.invitation_code
      ? fresh
      : await deps.doorflow.getCredential(p.personId, newId, { signal });
    status = credential.status ?? 'invited';
    expiresAt = credential.invitation_expires_at ?? null;
    if (status === 'invited') {
      const code = credential.invitation_code;
      if (!code) {
        throw new ProvisionerError(
          'invitation_code_pending',
          'the new credential has no invitation code yet',
          {
            retryable: true,
          },
        );
      }
      const to = await recipientOf(deps, p.personId, signal);
      await deps.channels
        .get(p.channel)
        .send(to, { credentialId: newId, credentialStatus: status, code, expiresAt }, signal);
      await deps.deliveries.record(newId, p.channel, {
        runId: `reissue`,
        key: old?.key ?? '',
        at: deps.clock.now(),
      });
      if (deps.config.encryptionKey) encryptedCode = encryptSecret(deps.config.encryptionKey, code);
    }
  }
  await startTracking(lifecycleDeps(deps), {
    credentialId: newId,
    personId: p.personId,
    channel: p.channel,
    systemId: old?.systemId,
    key: old?.key,
    expiresAt,
    status,
    encryptedCode,
    replaces: p.oldCredentialId,
  });
  await deps.credentials.setCounter(newId, 'reissues', (old?.reissues ?? 0) + 1);
  return newId;
}
