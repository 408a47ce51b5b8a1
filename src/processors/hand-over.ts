import { ProvisionerError } from '../lib/core/errors.ts';
import { isOwnChannel } from '../lib/delivery/channel-names.ts';
import { defineProcessor } from '../lib/jobs/define-processor.ts';
import type { InvitationPayload } from '../lib/jobs/registry.ts';
import { finish } from './advance.ts';
import { encryptInvitationCode, type JobContext, type ProcessorDeps } from './context.ts';
import { handOver, toDelivery } from './hand-over-decision.ts';

/**
 * Step 3, the hand-over (queue `invitation`): get the invitation code to the delivery step. Mode
 * `doorflow` (DoorFlow emails the person) needs no code: the entry is done. Otherwise the code
 * comes from the create response (already encrypted; then the credential step hands over itself,
 * see hand-over-decision.ts) or from reading the credential; when it is not there yet the job
 * moves to delayed with growing delays, up to `lifecycle.invitationWaitMaxMs`, then is
 * dead-lettered as `invitation_unavailable` (not retryable, the reason says how long it waited).
 */

export const handOverProcessor = defineProcessor('invitation', handle);

/** Delay before the next read of a credential with no code yet: doubles from the job backoff, ≤ 60 s. */
export function pollDelayMs(polls: number, baseMs: number, remainingMs: number): number {
  const exp = Math.min(60_000, baseMs * 2 ** Math.min(polls, 16));
  return Math.max(50, Math.min(remainingMs, Math.round(exp * (0.75 + Math.random() * 0.25))));
}

/** A wait for people: `850 ms`, `42 s`, `30 min`. */
function waited(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

async function handle(p: InvitationPayload, deps: ProcessorDeps, ctx: JobContext): Promise<string> {
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
    return await finish(deps, p, p.credentialCreated ? 'provisioned' : 'already_provisioned', p.delivery);
  }
  // handOver has ended every `doorflow` entry: a code read here is for one of our own channels.
  if (credential.invitation_code && isOwnChannel(p.delivery)) {
    const read = { ...p, credentialStatus: status, expiresAt: credential.invitation_expires_at ?? null };
    return await toDelivery(
      read,
      p.delivery,
      encryptInvitationCode(deps.config, credential.invitation_code),
      deps,
      ctx,
    );
  }
  const now = deps.clock.now();
  const startedAt = p.waitStartedAt ?? now;
  const remaining = startedAt + deps.config.lifecycle.invitationWaitMaxMs - now;
  if (remaining <= 0) {
    // A retry would find the same spent wait: dead-letter now; `dlq replay` starts a fresh wait.
    throw new ProvisionerError(
      'invitation_unavailable',
      `no invitation code from DoorFlow after waiting ${waited(now - startedAt)} (INVITATION_WAIT_MAX ${waited(deps.config.lifecycle.invitationWaitMaxMs)}); replay once DoorFlow shows it, or use --delivery doorflow if this account never returns codes`,
      { retryable: false },
    );
  }
  const delay = pollDelayMs(p.polls, deps.config.jobs.backoffMs, remaining);
  ctx.logger.debug({ delay, polls: p.polls }, 'invitation code not ready; delaying');
  await ctx.updateData({ ...p, waitStartedAt: startedAt, polls: p.polls + 1 });
  throw await ctx.delay(delay);
}
