import { findDelivery } from '../lib/deliveries.ts';
import { ProvisionerError } from '../lib/errors.ts';
import {
  deliveryQueueFor,
  type InvitationPayload,
  invitationPayloadSchema,
  stepFields,
  stepJobId,
} from '../lib/queues.ts';
import { encryptInvitationCode, type JobContext, type ProcessorDeps } from './context.ts';
import { trackHandedOver } from './lifecycle-helpers.ts';

/**
 * Step 3: get the invitation code to the delivery step. Mode `doorflow` (DoorFlow emails the person)
 * needs no code: the entry is done. Otherwise the code comes from the create response (already
 * encrypted in the payload) or from reading the credential; when it is not there yet the job moves
 * to delayed with growing delays, up to `lifecycle.invitationWaitMaxMs`, then fails (retryable).
 */

export const queueName = 'invitation' as const;
export const payloadSchema = invitationPayloadSchema;

/** Delay before the next read of a credential with no code yet: doubles from the job backoff, ≤ 60 s. */
export function pollDelayMs(polls: number, baseMs: number, remainingMs: number): number {
  const exp = Math.min(60_000, baseMs * 2 ** Math.min(polls, 16));
  return Math.max(50, Math.min(remainingMs, Math.round(exp * (0.75 + Math.random() * 0.25))));
}

export async function handle(p: InvitationPayload, deps: ProcessorDeps, ctx: JobContext): Promise<string> {
  const done = async (outcome: 'provisioned' | 'already_provisioned') => {
    await deps.runs.move(p.runId, p.key, outcome, {
      personId: p.personId,
      credentialId: p.credentialId,
      channel: p.delivery,
    });
    return outcome;
  };
  if (p.delivery === 'doorflow') {
    // DoorFlow emails the code; we still track the lifecycle (expiry, polling, stuck alerts).
    await trackHandedOver(deps, ctx, p, 'doorflow');
    return await done(p.credentialCreated ? 'provisioned' : 'already_provisioned');
  }

  const channel = p.delivery;
  const delivered = await findDelivery(deps.redis, deps.prefix, p.credentialId, channel);
  if (delivered) return await done(delivered.runId === p.runId ? 'provisioned' : 'already_provisioned');

  let encryptedCode = p.encryptedCode;
  let expiresAt = p.expiresAt ?? null;
  let status = p.credentialStatus ?? null;
  if (!encryptedCode) {
    const credential = await deps.doorflow.getCredential(p.personId, p.credentialId, { signal: ctx.signal });
    status = credential.status ?? null;
    if (status && status !== 'invited') {
      // Accepted already (provisioning/active): nothing left to deliver.
      return await done(p.credentialCreated ? 'provisioned' : 'already_provisioned');
    }
    if (credential.invitation_code) {
      encryptedCode = encryptInvitationCode(deps.config, credential.invitation_code);
      expiresAt = credential.invitation_expires_at ?? null;
    } else {
      const now = deps.clock.now();
      const startedAt = p.waitStartedAt ?? now;
      const remaining = startedAt + deps.config.lifecycle.invitationWaitMaxMs - now;
      if (remaining <= 0) {
        throw new ProvisionerError(
          'invitation_timeout',
          'no invitation code after INVITATION_WAIT_MAX (if this DoorFlow account never returns codes, use --delivery doorflow)',
          {
            retryable: true,
          },
        );
      }
      const delay = pollDelayMs(p.polls, deps.config.jobs.backoffMs, remaining);
      ctx.logger.debug({ delay, polls: p.polls }, 'invitation code not ready; delaying');
      await ctx.updateData({ ...p, waitStartedAt: startedAt, polls: p.polls + 1 });
      throw await ctx.delay(delay);
    }
  }
  const queue = deliveryQueueFor(channel);
  await deps.runs.move(p.runId, p.key, queue as `delivery-${string}`, {
    personId: p.personId,
    credentialId: p.credentialId,
  });
  await deps.queues.add(
    queue,
    {
      ...stepFields(p),
      personId: p.personId,
      credentialId: p.credentialId,
      credentialStatus: status,
      encryptedCode,
      expiresAt,
    },
    { jobId: stepJobId(p.runId, p.key, p.gen) },
  );
  // The code now travels with the delivery job only.
  if (p.encryptedCode) await ctx.updateData({ ...p, encryptedCode: undefined });
  return 'queued';
}
