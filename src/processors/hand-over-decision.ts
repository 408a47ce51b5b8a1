import type { OwnChannel } from '../lib/delivery/channel-names.ts';
import { deliveryQueueFor, type InvitationPayload, stepFields } from '../lib/jobs/registry.ts';
import { advance, finish } from './advance.ts';
import type { JobContext, ProcessorDeps } from './context.ts';
import { trackHandedOver } from './lifecycle/track.ts';

/**
 * The hand-over decision, shared by the credential step (when the create response carried the
 * code, so the common path needs no invitation job at all) and the hand-over step (after reading
 * the code): mode `doorflow` ends the entry (DoorFlow emails the person; we still track the
 * lifecycle), a credential already delivered on the entry's channel ends it too, and a code at
 * hand (encrypted) goes to the channel's delivery queue.
 */

/** Hands over, or returns undefined when the code still has to be read from DoorFlow. */
export async function handOver(
  p: InvitationPayload,
  deps: ProcessorDeps,
  ctx: JobContext,
): Promise<string | undefined> {
  if (p.delivery === 'doorflow') {
    await trackHandedOver(deps, ctx, p, 'doorflow');
    return await finish(deps, p, p.credentialCreated ? 'provisioned' : 'already_provisioned', p.delivery);
  }
  const delivered = await deps.deliveries.find(p.credentialId, p.delivery);
  if (delivered) {
    const outcome = delivered.runId === p.runId ? 'provisioned' : 'already_provisioned';
    return await finish(deps, p, outcome, p.delivery);
  }
  if (!p.encryptedCode) return undefined;
  return await toDelivery(p, p.delivery, p.encryptedCode, deps, ctx);
}

/** Moves the entry to its channel's delivery queue with the (encrypted) code. */
export async function toDelivery(
  p: InvitationPayload,
  channel: OwnChannel,
  encryptedCode: string,
  deps: ProcessorDeps,
  ctx: Pick<JobContext, 'continueWith'>,
): Promise<'queued'> {
  await advance(
    deps,
    p,
    deliveryQueueFor(channel),
    {
      ...stepFields(p),
      personId: p.personId,
      credentialId: p.credentialId,
      credentialStatus: p.credentialStatus ?? null,
      encryptedCode,
      expiresAt: p.expiresAt ?? null,
    },
    { personId: p.personId, credentialId: p.credentialId },
    ctx,
  );
  return 'queued';
}
