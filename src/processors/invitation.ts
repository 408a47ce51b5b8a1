import { ProvisionerError } from '../lib/core/errors.ts';
import {
  deliveryQueueFor,
  type InvitationPayload,
  invitationPayloadSchema,
  stepFields,
  stepJobId,
} from '../lib/jobs/registry.ts';
import { encryptInvitationCode, type JobContext, type ProcessorDeps } from './context.ts';
import { trackHandedOver } from './lifecycle/track.ts';

/**
 * Step 3: get the invitation code to the delivery step. Mode `doorflow` (DoorFlow emails the person)
 * needs no code: the entry is done. Otherwise the code comes from the create response (already
 * encrypted; then the credential step hands over itself, see {@link handOver}) or from reading the
 * credential; when it is not there yet the job moves to delayed with growing delays, up to
 * `lifecycle.invitationWaitMaxMs`, then fails (retryable).
 */

export const queueName = 'invitation' as const;
export const payloadSchema = invitationPayloadSchema;

/** Delay before the next read of a credential with no code yet: doubles from the job backoff, ≤ 60 s. */
export function pollDelayMs(polls: number, baseMs: number, remainingMs: number): number {
  const exp = Math.min(60_000, baseMs * 2 ** Math.min(polls, 16));
  return Math.max(50, Math.min(remainingMs, Math.round(exp * (0.75 + Math.random() * 0.25))));
}

/** Ends the entry (`provisioned` or `already_provisioned`, per who made the credential). */
async function finish(
  p: InvitationPayload,
  deps: ProcessorDeps,
  outcome: 'provisioned' | 'already_provisioned',
): Promise<string> {
  await deps.runs.move(p.runId, p.key, outcome, {
    personId: p.personId,
    credentialId: p.credentialId,
    channel: p.delivery,
  });
  return outcome;
}

/**
 * The hand-over when nothing has to be read from DoorFlow: mode `doorflow` ends the entry (DoorFlow
 * emails the person; we still track the lifecycle), and a code at hand (encrypted) goes to the
 * delivery queue unless this credential was delivered on the channel already. Returns undefined
 * when the code still has to be read. The credential step calls this directly when the create
 * response carried the code, so the common path needs no invitation job at all.
 */
export async function handOver(
  p: InvitationPayload,
  deps: ProcessorDeps,
  ctx: JobContext,
): Promise<string | undefined> {
  if (p.delivery === 'doorflow') {
    await trackHandedOver(deps, ctx, p, 'doorflow');
    return await finish(p, deps, p.credentialCreated ? 'provisioned' : 'already_provisioned');
  }
  const delivered = await deps.deliveries.find(p.credentialId, p.delivery);
  if (delivered) {
    return await finish(p, deps, delivered.runId === p.runId ? 'provisioned' : 'already_provisioned');
  }
  if (!p.encryptedCode) return undefined;
  return await queueDelivery(p, p.delivery, p.encryptedCode, deps);
}

type OwnChannel = Exclude<InvitationPayload['delivery'], 'doorflow'>;

/** Moves the entry to its delivery queue with the (encrypted) code. */
async function queueDelivery(
  p: InvitationPayload,
  channel: OwnChannel,
  encryptedCode: string,
  deps: ProcessorDeps,
): Promise<string> {
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
      credentialStatus: p.credentialStatus ?? null,
      encryptedCode,
      expiresAt: p.expiresAt ?? null,
    },
    { jobId: stepJobId(p.runId, p.key, p.gen) },
  );
  return 'queued';
}

export async function handle(p: InvitationPayload, deps: ProcessorDeps, ctx: JobContext): Promise<string> {
  const handed = await handOver(p, deps, ctx);
  if (handed !== undefined) {
    // The code now travels with the delivery job only.
    if (handed === 'queued' && p.encryptedCode) await ctx.updateData({ ...p, encryptedCode: undefined });
    return handed;
  }
  const credential = await deps.doorflow.getCredential(p.personId, p.credentialId, { signal: ctx.signal });
  const status = credential.status ?? null;
  if (status && status !== 'invited') {
    // Accepted already (provisioning/active): nothing left to deliver.
    return await finish(p, deps, p.credentialCreated ? 'provisioned' : 'already_provisioned');
  }
  if (credential.invitation_code) {
    const read = { ...p, credentialStatus: status, expiresAt: credential.invitation_expires_at ?? null };
    // handOver has ended every `doorflow` entry: a code read here is for one of our own channels.
    const channel = p.delivery as OwnChannel;
    return await queueDelivery(
      read,
      channel,
      encryptInvitationCode(deps.config, credential.invitation_code),
      deps,
    );
  }
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
