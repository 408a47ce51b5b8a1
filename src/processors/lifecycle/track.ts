import { raiseAlert, type Alert } from '../../lib/ops/alerts.ts';
import type { RecordResult } from '../../lib/store/credentials.ts';
import type { Credential } from '../../lib/doorflow/types.ts';
import { DoorFlowError } from '../../lib/core/errors.ts';
import { type LifecycleDeps, recordAndSchedule, startTracking } from './schedule.ts';
import type { DeliveryPayload, InvitationPayload } from '../../lib/jobs/registry.ts';
import type { JobContext, ProcessorDeps } from '../context.ts';
import { decryptSecret } from '../../lib/core/crypto.ts';
import { type Recipient, recipientFromPerson } from '../../lib/delivery/channel.ts';

/**
 * Small steps the lifecycle processors share: read a credential's current status from DoorFlow
 * and record it, revoke one credential, raise an alert, wait for a job's due time; and the start
 * of tracking that the invitation and delivery steps share.
 */

export function lifecycleDeps(deps: ProcessorDeps): LifecycleDeps {
  return {
    config: deps.config,
    credentials: deps.credentials,
    codes: deps.codes,
    timers: deps.timers,
    queues: deps.queues,
    clock: deps.clock,
    logger: deps.logger,
  };
}

/**
 * Starts lifecycle tracking (reminders, expiry, polling: schedule.ts) of the invitation a
 * pipeline step handed over (to DoorFlow or delivered). A failure is logged, never fails the step.
 */
export async function trackHandedOver(
  deps: ProcessorDeps,
  ctx: JobContext,
  p: InvitationPayload | DeliveryPayload,
  channel: string,
  encryptedCode?: string,
): Promise<void> {
  await startTracking(deps, {
    credentialId: p.credentialId,
    personId: p.personId,
    channel,
    systemId: p.entry.system_id,
    key: p.key,
    runId: p.runId,
    expiresAt: p.expiresAt,
    status: p.credentialStatus,
    ...(encryptedCode !== undefined ? { encryptedCode } : {}),
  }).catch((err: unknown) => ctx.logger.warn({ err }, 'could not start lifecycle tracking'));
}

/**
 * The person a reminder or reissue sends to, as DoorFlow knows them (one budget unit), with the
 * roster email the person step kept when DoorFlow was not given it (DOORFLOW_SEND_EMAIL).
 */
export async function recipientOf(
  deps: ProcessorDeps,
  personId: number,
  signal: AbortSignal | undefined,
): Promise<Recipient> {
  const to = recipientFromPerson(personId, await deps.doorflow.getPerson(personId, { signal }));
  const sealed = await deps.people.contact(personId);
  const key = deps.config.encryptionKey;
  if (sealed && key) to.email = decryptSecret(key, sealed);
  return to;
}

/** A handler woken before its due time (lifecycle clock) goes back to sleep for the rest. */
export async function notYetDue(
  dueAt: number,
  deps: ProcessorDeps,
  ctx: JobContext,
): Promise<Error | undefined> {
  const wait = dueAt - deps.clock.now();
  return wait > 0 ? await ctx.delay(wait) : undefined;
}

export function isNotFound(err: unknown): boolean {
  return err instanceof DoorFlowError && err.status === 404;
}

export interface Refreshed {
  /** undefined when DoorFlow answered 404 (recorded as `deleted`). */
  credential: Credential | undefined;
  status: string;
  result: RecordResult;
}

/** Reads the credential from DoorFlow (one budget unit) and records its status. */
export async function refreshStatus(
  deps: ProcessorDeps,
  personId: number,
  credentialId: string,
  source: string,
  signal: AbortSignal | undefined,
): Promise<Refreshed> {
  let credential: Credential | undefined;
  try {
    credential = await deps.doorflow.getCredential(personId, credentialId, { signal });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const status = credential ? (credential.status ?? 'unknown') : 'deleted';
  const result = await recordAndSchedule(lifecycleDeps(deps), {
    id: credentialId,
    status,
    source,
    meta: { personId },
  });
  return { credential, status, result };
}

/**
 * Revokes one credential: DELETE → 202 → `revoking` (mobile, asynchronous; `revoked` comes by
 * webhook or poll), 200 → `revoked`, 404 → `deleted`. Already revoking/revoked: nothing sent.
 */
export async function revokeOne(
  deps: ProcessorDeps,
  personId: number,
  credential: Pick<Credential, 'id' | 'status'>,
  source: string,
  signal: AbortSignal | undefined,
): Promise<'revoking' | 'revoked' | 'deleted' | 'already'> {
  const ld = lifecycleDeps(deps);
  await deps.codes.drop(credential.id);
  if (credential.status === 'revoking' || credential.status === 'revoked') {
    await recordAndSchedule(ld, { id: credential.id, status: credential.status, source, meta: { personId } });
    return 'already';
  }
  let status: 'revoking' | 'revoked' | 'deleted';
  try {
    const result = await deps.doorflow.deleteCredential(personId, credential.id, { signal });
    status = result.status === 202 ? 'revoking' : 'revoked';
  } catch (err) {
    if (!isNotFound(err)) throw err;
    status = 'deleted';
  }
  await recordAndSchedule(ld, { id: credential.id, status, source, meta: { personId } });
  return status;
}

export async function alert(deps: ProcessorDeps, a: Alert): Promise<boolean> {
  return await raiseAlert(
    {
      alerts: deps.alerts,
      logger: deps.logger,
      clock: deps.clock,
      http: deps.http,
      alertWebhookUrl: deps.config.lifecycle.alertWebhookUrl,
    },
    a,
  );
}
