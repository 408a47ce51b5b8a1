import { decryptSecret } from '../lib/core/crypto.ts';
import { ProvisionerError } from '../lib/core/errors.ts';
import { tryLock } from '../lib/core/locks.ts';
import type { DeliveryPayload } from '../lib/jobs/registry.ts';
import { contentionDelayMs, type JobContext, lockTtlMs, type ProcessorDeps } from './context.ts';
import { trackHandedOver } from './lifecycle/track.ts';
import { type Invitation, type OwnChannel, type Recipient, sendCode } from '../lib/delivery/send-code.ts';

/** The person a delivery job sends to. */
export function recipientOf(p: DeliveryPayload): Recipient {
  return {
    personId: p.personId,
    systemId: p.entry.system_id,
    firstName: p.entry.first_name,
    lastName: p.entry.last_name,
    email: p.entry.email,
    mobile: p.entry.mobile,
  };
}

/** The first invitation message of a delivery job, with its decrypted code (secret). */
export function invitationOf(p: DeliveryPayload, code: string): Invitation {
  return {
    credentialId: p.credentialId,
    credentialStatus: p.credentialStatus,
    code,
    expiresAt: p.expiresAt,
    runId: p.runId,
  };
}

/**
 * Step 4, the one delivery path of every channel we send ourselves (email, sms, webhook): a
 * confirmed send is recorded once (`delivered:{credential}:{channel}`), so a retried or replayed
 * job never sends again; the code is decrypted just before sending and dropped from the job data
 * afterwards. Tracking starts here (reminders, expiry, polling), keeping the one encrypted
 * reminder copy described in lib/delivery/code-store.ts.
 */
export async function deliverOwn(
  channel: OwnChannel,
  p: DeliveryPayload,
  deps: ProcessorDeps,
  ctx: JobContext,
): Promise<string> {
  const finish = async (outcome: 'provisioned' | 'already_provisioned') => {
    await deps.runs.move(p.runId, p.key, outcome, {
      personId: p.personId,
      credentialId: p.credentialId,
      channel,
    });
    await ctx.updateData({ ...p, encryptedCode: undefined });
    return outcome;
  };
  const before = await deps.deliveries.find(p.credentialId, channel);
  if (before) return await finish(before.runId === p.runId ? 'provisioned' : 'already_provisioned');

  const release = await tryLock(
    deps.redis,
    deps.keys.deliveryLock(p.credentialId, channel),
    ctx.jobId,
    lockTtlMs(deps.config),
  );
  if (!release) throw await ctx.delay(contentionDelayMs());
  try {
    // Re-check under the lock: another run may have sent it while we waited.
    const raced = await deps.deliveries.find(p.credentialId, channel);
    if (raced) return await finish(raced.runId === p.runId ? 'provisioned' : 'already_provisioned');
    const key = deps.config.encryptionKey;
    if (!p.encryptedCode || !key) {
      throw new ProvisionerError(
        'code_missing',
        'delivery job carries no invitation code (replay from invitation)',
        { retryable: false },
      );
    }
    await sendCode(
      deps,
      channel,
      recipientOf(p),
      invitationOf(p, decryptSecret(key, p.encryptedCode)),
      ctx.signal,
    );
    await deps.deliveries.record(p.credentialId, channel, {
      runId: p.runId,
      key: p.key,
      at: deps.clock.now(),
    });
    ctx.logger.info(
      { credentialId: p.credentialId, channel },
      channel === 'webhook' ? 'invitation delivered by webhook' : 'invitation delivered',
    );
    // Lifecycle (reminders, expiry, polling): see lib/lifecycle.ts. Never fails the delivery.
    await trackHandedOver(deps, ctx, p, channel, p.encryptedCode);
    return await finish('provisioned');
  } finally {
    await release();
  }
}
