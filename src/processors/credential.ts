import { type Credential, LIVE_CREDENTIAL_STATUSES } from '../lib/doorflow/types.ts';
import { countLiveHid } from '../lib/ops/licence-headroom.ts';
import { DoorFlowError, ProvisionerError } from '../lib/core/errors.ts';
import { tryLock } from '../lib/core/locks.ts';
import { defineProcessor } from '../lib/jobs/define-processor.ts';
import { type CredentialPayload, type InvitationPayload, stepFields } from '../lib/jobs/registry.ts';
import { advance } from './advance.ts';
import {
  contentionDelayMs,
  encryptInvitationCode,
  type JobContext,
  lockTtlMs,
  type ProcessorDeps,
} from './context.ts';
import { handOver } from './hand-over-decision.ts';

/**
 * Step 2: exactly one live HID Mobile Access credential per person. Reuse a live one; else create;
 * a 409 adopts the credential DoorFlow returns; 422 `limit_reached` is permanent (`licence_limit`).
 * The list call is skipped for a person this chain just created (it cannot have credentials),
 * unless an earlier attempt sent a create whose answer was lost.
 */

export const credentialProcessor = defineProcessor('credential', handle);

const STATUS_PREFERENCE = ['active', 'provisioning', 'invited'];

/** The live HID credential to keep when a person already has some (most advanced, then oldest listed). */
export function pickLiveCredential(credentials: Credential[], typeId: number): Credential | undefined {
  const live = credentials.filter(
    (c) => c.credential_type_id === typeId && LIVE_CREDENTIAL_STATUSES.has(String(c.status ?? 'invited')),
  );
  live.sort(
    (a, b) => STATUS_PREFERENCE.indexOf(String(a.status)) - STATUS_PREFERENCE.indexOf(String(b.status)),
  );
  return live[0];
}

async function handle(
  p: CredentialPayload,
  deps: ProcessorDeps,
  ctx: JobContext,
): Promise<{ credentialId: string; created: boolean }> {
  const release = await tryLock(
    deps.redis,
    deps.keys.credentialLock(p.personId),
    ctx.jobId,
    lockTtlMs(deps.config),
  );
  if (!release) throw await ctx.delay(contentionDelayMs());
  let credential: Credential;
  let created = false;
  try {
    ({ credential, created } = await ensureCredential(p, deps, ctx));
  } finally {
    await release();
  }
  let encryptedCode: string | undefined;
  if (p.delivery !== 'doorflow' && credential.invitation_code) {
    encryptedCode = encryptInvitationCode(deps.config, credential.invitation_code);
  }
  const next: InvitationPayload = {
    ...stepFields(p),
    personId: p.personId,
    credentialId: credential.id,
    credentialStatus: credential.status ?? null,
    credentialCreated: created,
    polls: 0,
    ...(encryptedCode ? { encryptedCode, expiresAt: credential.invitation_expires_at ?? null } : {}),
  };
  // With the code in hand (or DoorFlow sending it) there is nothing to wait for: hand over now
  // instead of through an invitation job (one job and its bookkeeping fewer per person).
  if (p.delivery === 'doorflow' || encryptedCode) {
    await handOver(next, deps, ctx);
  } else {
    await advance(deps, p, 'invitation', next, { personId: p.personId, credentialId: credential.id }, ctx);
  }
  return { credentialId: credential.id, created };
}

/** How often a burst of `limit_reached` answers lists the account again to (re)learn the limit. */
const RELEARN_AFTER_MS = 10 * 60_000;

/**
 * Without HID_LICENCE_LIMIT, `limit_reached` teaches the limit: the live HID credentials now
 * (DoorFlow names no number); later ones may raise it, at most one listing per 10 minutes. Best
 * effort: the step fails `licence_limit` whatever happens here.
 */
async function learnLicenceLimit(deps: ProcessorDeps, typeId: number, ctx: JobContext): Promise<void> {
  if (deps.config.doorflow.licenceLimit !== undefined) return;
  try {
    const at = await deps.licences.learnedAt();
    if (at !== undefined && deps.clock.now() - at < RELEARN_AFTER_MS) return;
    const listing: Credential[] = [];
    for await (const c of deps.doorflow.iterateCredentials({ signal: ctx.signal })) listing.push(c);
    const limit = await deps.licences.learn(countLiveHid(listing, typeId), deps.clock.now());
    ctx.logger.info({ limit }, 'HID licence limit learned from limit_reached');
  } catch (err) {
    ctx.logger.warn({ err }, 'could not learn the HID licence limit');
  }
}

async function ensureCredential(
  p: CredentialPayload,
  deps: ProcessorDeps,
  ctx: JobContext,
): Promise<{ credential: Credential; created: boolean }> {
  const call = { signal: ctx.signal };
  const typeId = await deps.hidCredentialTypeId();
  const mustList = !p.personCreated || (await deps.credentials.createPending(p.personId));
  if (mustList) {
    const existing = pickLiveCredential(await deps.doorflow.listPersonCredentials(p.personId, call), typeId);
    if (existing) {
      await deps.credentials.clearCreatePending(p.personId);
      return { credential: existing, created: false };
    }
  }
  await deps.credentials.markCreatePending(p.personId, Date.now());
  try {
    const result = await deps.doorflow.createCredential(
      p.personId,
      { credential_type_id: typeId, value: null },
      call,
    );
    if (!result.created && !LIVE_CREDENTIAL_STATUSES.has(String(result.credential.status ?? 'invited'))) {
      // 409 with a credential still revoking: a new one can be made once it is gone.
      throw new ProvisionerError(
        'credential_not_live',
        `existing credential is ${result.credential.status}`,
        {
          retryable: true,
        },
      );
    }
    ctx.logger.debug({ credentialId: result.credential.id, adopted: !result.created }, 'credential ready');
    await deps.credentials.clearCreatePending(p.personId);
    // A 409 adoption is someone else's (or our lost) create: it is still the one credential.
    return { credential: result.credential, created: true };
  } catch (err) {
    if (err instanceof DoorFlowError && err.code === 'licence_limit') {
      await deps.credentials.clearCreatePending(p.personId);
      await learnLicenceLimit(deps, typeId, ctx);
      throw new ProvisionerError('licence_limit', 'HID Mobile Access licence limit reached', {
        retryable: false,
        cause: err,
      });
    }
    throw err;
  }
}
