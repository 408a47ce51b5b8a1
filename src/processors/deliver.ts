import { decryptSecret } from '../lib/core/crypto.ts';
import { ProvisionerError } from '../lib/core/errors.ts';
import { tryLock } from '../lib/core/locks.ts';
import type { DeliveryChannel, Invitation, Recipient } from '../lib/delivery/channel.ts';
import type { OwnChannel } from '../lib/delivery/channel-names.ts';
import { webhookMessageBody } from '../lib/delivery/webhook.ts';
import { defineProcessor } from '../lib/jobs/define-processor.ts';
import type { DeliveryPayload } from '../lib/jobs/registry.ts';
import { finish, type Outcome } from './advance.ts';
import {
  contentionDelayMs,
  type JobContext,
  lockTtlMs,
  type ProcessorDeps,
  type StepProcessor,
} from './context.ts';
import { trackHandedOver } from './lifecycle/track.ts';

/**
 * Step 4, deliver: one path for every channel we send ourselves (queues `delivery-webhook`,
 * `delivery-email`, `delivery-sms`). Under a per-credential-and-channel lock, a confirmed send is
 * recorded once (`delivered:{credential}:{channel}`), so a retried or replayed job never sends
 * again; the code is decrypted just before sending and dropped from the job data afterwards.
 * Tracking starts here (reminders, expiry, polling), keeping the one encrypted reminder copy
 * described in lib/store/codes.ts.
 */

/** The person a delivery job sends to. */
function recipientOf(p: DeliveryPayload): Recipient {
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
function invitationOf(p: DeliveryPayload, code: string): Invitation {
  return {
    credentialId: p.credentialId,
    credentialStatus: p.credentialStatus,
    code,
    expiresAt: p.expiresAt,
    runId: p.runId,
  };
}

/** The JSON body the webhook receiver gets for a delivery job's first message. */
export function webhookBody(p: DeliveryPayload, code: string, instructions: string): Record<string, unknown> {
  return webhookMessageBody(recipientOf(p), invitationOf(p, code), instructions);
}

async function deliver(
  channel: OwnChannel,
  p: DeliveryPayload,
  deps: ProcessorDeps,
  ctx: JobContext,
): Promise<Outcome> {
  const sender = deps.channels.get(channel);
  // Before anything else, so a process that can never send on this channel fails the job at once.
  sender.preflight?.();
  const release = await tryLock(
    deps.redis,
    deps.keys.deliveryLock(p.credentialId, channel),
    ctx.jobId,
    lockTtlMs(deps.config),
  );
  if (!release) throw await ctx.delay(contentionDelayMs());
  let outcome: Outcome;
  try {
    outcome = await sendOnce(channel, sender, p, deps, ctx);
  } finally {
    await release();
  }
  // The code leaves the job data before the entry ends, so a finished run holds no code anywhere.
  await ctx.updateData({ ...p, encryptedCode: undefined });
  return await finish(deps, p, outcome, channel);
}

/** Under the delivery lock: sends unless a send of this credential on this channel is recorded. */
async function sendOnce(
  channel: OwnChannel,
  sender: DeliveryChannel,
  p: DeliveryPayload,
  deps: ProcessorDeps,
  ctx: JobContext,
): Promise<Outcome> {
  // Looked up under the lock: another run may have sent it while this job waited.
  const before = await deps.deliveries.find(p.credentialId, channel);
  if (before) return before.runId === p.runId ? 'provisioned' : 'already_provisioned';
  const key = deps.config.encryptionKey;
  if (!p.encryptedCode || !key) {
    throw new ProvisionerError(
      'code_missing',
      'delivery job carries no invitation code (replay from invitation)',
      {
        retryable: false,
      },
    );
  }
  const to = recipientOf(p);
  const inv = invitationOf(p, decryptSecret(key, p.encryptedCode));
  const recovered = await sendClaimed(channel, sender, to, inv, deps, ctx);
  await deps.deliveries.record(p.credentialId, channel, {
    runId: p.runId,
    key: p.key,
    at: deps.clock.now(),
    ...(recovered ? { recovered } : {}),
  });
  if (recovered === 'unknown') {
    ctx.logger.warn(
      { credentialId: p.credentialId, channel },
      'an earlier attempt died after the invitation may have left: not sent again (reminders repeat it)',
    );
  } else {
    ctx.logger.debug(
      { credentialId: p.credentialId, channel, ...(recovered ? { recovered } : {}) },
      channel === 'webhook' ? 'invitation delivered by webhook' : 'invitation delivered',
    );
  }
  // Lifecycle (reminders, expiry, polling): see lifecycle/schedule.ts. Never fails the delivery.
  await trackHandedOver(deps, ctx, p, channel, p.encryptedCode);
  return 'provisioned';
}

/**
 * Sends under a claim (`delivering:{credential}:{channel}`) taken before the message leaves. A
 * claim left by an earlier attempt that never confirmed (it crashed, or failed) is settled by the
 * channel first (DeliveryChannel.recover): the provider's log shows the message (`provider_log`),
 * a resend is harmless (sent now), or it may have reached the person (`unknown`: not sent again).
 * Returns how a send that was not confirmed now was settled.
 */
async function sendClaimed(
  channel: OwnChannel,
  sender: DeliveryChannel,
  to: Recipient,
  inv: Invitation,
  deps: ProcessorDeps,
  ctx: JobContext,
): Promise<'unknown' | 'provider_log' | undefined> {
  const now = deps.clock.now();
  const earlier = await deps.deliveries.claim(inv.credentialId, channel, ctx.jobId, now);
  // The first attempt's start: a provider log is searched from there on a later recovery.
  const started = earlier?.at ?? now;
  if (earlier) {
    const outcome = await sender.recover(
      to,
      inv,
      { at: earlier.at, committed: earlier.phase === 'committed' },
      ctx.signal,
    );
    if (outcome === 'sent') return 'provider_log';
    if (outcome === 'unknown') return 'unknown';
    await deps.deliveries.setPhase(inv.credentialId, channel, {
      jobId: ctx.jobId,
      at: started,
      phase: 'started',
    });
  }
  const phase = (value: 'started' | 'committed') => () =>
    deps.deliveries.setPhase(inv.credentialId, channel, { jobId: ctx.jobId, at: started, phase: value });
  await sender.send(to, inv, ctx.signal, { commit: phase('committed'), reopen: phase('started') });
  return undefined;
}

const deliverOn = (channel: OwnChannel) => (p: DeliveryPayload, deps: ProcessorDeps, ctx: JobContext) =>
  deliver(channel, p, deps, ctx);

/** The three delivery queues, one processor each, all through {@link deliver}. */
export const deliveryProcessors: readonly StepProcessor[] = [
  defineProcessor('delivery-webhook', deliverOn('webhook')),
  defineProcessor('delivery-email', deliverOn('email')),
  defineProcessor('delivery-sms', deliverOn('sms')),
];
