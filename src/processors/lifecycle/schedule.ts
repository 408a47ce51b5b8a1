import type { Clock } from '../../lib/core/clock.ts';
import type { Config } from '../../lib/core/config.ts';
import type { CodeStore } from '../../lib/store/codes.ts';
import {
  type CredentialMeta,
  type CredentialRecord,
  type CredentialStore,
  MOVING_STATUSES,
  type RecordResult,
} from '../../lib/store/credentials.ts';
import type { RevocationPayload } from '../../lib/jobs/lifecycle-payloads.ts';
import type { Logger } from '../../lib/core/logger.ts';
import { encodeKey, type PayloadInput, type Queues } from '../../lib/jobs/registry.ts';
import type { LifecycleTimerStore, TimerSpec } from '../../lib/store/lifecycle-timers.ts';

/**
 * The credential lifecycle's timing, driven by the fleet's one timer index and the injectable
 * clock. Every recorded status change calls {@link scheduleFor}, which sets the timers that status
 * needs in the index (store/lifecycle-timers.ts) in one round trip and cancels the credential's
 * others — each timer under a deterministic job id (so scheduling twice keeps one timer) and with a
 * `dueAt` on the lifecycle clock. The fleet's one scheduler (timers.ts) hands each timer due by
 * that clock to its queue as an immediate job with that id. A handler woken before `dueAt` (clock
 * moved back) delays itself again; tests move a ManualClock and run the due timers.
 *
 * - invited: reminder n at `since + n × REMINDER_AFTER` (n ≤ REMINDER_MAX, before expiry),
 *   expiry at `invitation_expires_at` or `since + INVITATION_TTL` (whichever comes first),
 *   status poll after STATUS_POLL_AFTER.
 * - provisioning: stuck check after STUCK_PROVISIONING_AFTER, status poll.
 * - revoking: status poll.
 * - expired (DoorFlow expired the invitation): the expiry policy runs at once.
 * - anything else (active, revoked, unknown): no timers; the reminder copy of the code is dropped.
 */

export interface LifecycleDeps {
  config: Config;
  credentials: CredentialStore;
  codes: CodeStore;
  timers: LifecycleTimerStore;
  queues: Queues;
  clock: Clock;
  logger: Logger;
}

/** The queues lifecycle timers fire on. */
export const TIMER_QUEUES = ['status-poll', 'reminder', 'expiry', 'stuck-check'] as const;
export type TimerQueue = (typeof TIMER_QUEUES)[number];

/** Poll interval after `n` polls without movement: doubles from STATUS_POLL_AFTER, at most 6 h. */
export function pollIntervalMs(statusPollAfterMs: number, n: number): number {
  return Math.min(statusPollAfterMs * 2 ** Math.min(n, 20), Math.max(statusPollAfterMs, 6 * 3600_000));
}

const jobId = (...parts: (string | number)[]) => parts.map((p) => encodeKey(String(p))).join('--');

function timer<Q extends TimerQueue>(
  queue: Q,
  id: string,
  data: PayloadInput<Q> & { dueAt: number },
): TimerSpec {
  return { id, queue, dueAt: data.dueAt, data };
}

/** Status poll number `n` of the status reached at `since`. */
export function pollTimer(
  ref: { credentialId: string; personId: number },
  since: number,
  n: number,
  dueAt: number,
): TimerSpec {
  return timer('status-poll', jobId('poll', ref.credentialId, since, n), { ...ref, since, n, dueAt });
}

/** When the invitation stops being valid for us: DoorFlow's expiry or our TTL, whichever is first. */
export function invitationDeadline(
  record: Pick<CredentialRecord, 'since' | 'expiresAt'>,
  ttlMs: number,
  nowMs: number,
): number {
  const byTtl = (record.since ?? nowMs) + ttlMs;
  return record.expiresAt !== undefined ? Math.min(record.expiresAt, byTtl) : byTtl;
}

/**
 * Sets the timers the credential's current status needs (idempotent). `replace` (a status
 * change): the credential's other timers are cancelled; otherwise they are only added.
 */
async function scheduleFor(deps: LifecycleDeps, record: CredentialRecord, replace: boolean): Promise<void> {
  const { status, since, personId, id } = record;
  if (!status || since === undefined || personId === undefined) return;
  const now = deps.clock.now();
  const lc = deps.config.lifecycle;
  const ref = { credentialId: id, personId };

  if (!MOVING_STATUSES.has(status)) {
    await deps.codes.drop(id);
    await deps.timers.cancel(id);
    // DoorFlow expired an invitation we issued: apply the expiry policy now.
    if (status === 'expired' && record.channel) {
      await deps.queues.add('expiry', { ...ref, dueAt: now }, { jobId: jobId('exp-now', id) });
    }
    return;
  }
  if (status !== 'invited') await deps.codes.drop(id);
  // Credentials we did not issue (made in DoorFlow's UI or by another app, seen via webhooks) are
  // recorded but never reminded, expired or polled — except to confirm a revocation we started.
  const timers: TimerSpec[] = [];
  if (record.channel || status === 'revoking') {
    timers.push(pollTimer(ref, since, 0, since + lc.statusPollAfterMs));
    if (status === 'invited') {
      const deadline = invitationDeadline(record, lc.invitationTtlMs, now);
      timers.push(timer('expiry', jobId('exp', id), { ...ref, dueAt: deadline }));
      const reminder = nextReminder(deps, record);
      if (reminder) timers.push(reminder);
    }
    if (status === 'provisioning') {
      const dueAt = since + lc.stuckProvisioningAfterMs;
      timers.push(timer('stuck-check', jobId('stuck', id, since), { ...ref, since, dueAt }));
    }
  }
  await deps.timers.schedule(id, timers, replace);
}

/** Reminder number `reminders + 1` when allowed (≤ REMINDER_MAX, before the deadline). */
function nextReminder(deps: LifecycleDeps, record: CredentialRecord): TimerSpec | undefined {
  const { since, personId, id } = record;
  if (record.status !== 'invited' || since === undefined || personId === undefined) return undefined;
  if (!record.channel || record.channel === 'doorflow') return undefined;
  const lc = deps.config.lifecycle;
  const n = record.reminders + 1;
  const dueAt = since + n * lc.reminderAfterMs;
  if (n > lc.reminderMax || dueAt >= invitationDeadline(record, lc.invitationTtlMs, deps.clock.now())) {
    return undefined;
  }
  return timer('reminder', jobId('rem', id, n), { credentialId: id, personId, n, dueAt });
}

/** Schedules reminder number `reminders + 1` when allowed (≤ REMINDER_MAX, before the deadline). */
export async function scheduleNextReminder(deps: LifecycleDeps, record: CredentialRecord): Promise<boolean> {
  const reminder = nextReminder(deps, record);
  if (!reminder) return false;
  await deps.timers.schedule(record.id, [reminder], false);
  return true;
}

/** Records a status and, when it changed, schedules what the new status needs. */
export async function recordAndSchedule(
  deps: LifecycleDeps,
  change: { id: string; status: string; source: string; atMs?: number; meta?: CredentialMeta },
): Promise<RecordResult> {
  const result = await deps.credentials.recordStatus({
    id: change.id,
    status: change.status,
    atMs: change.atMs ?? deps.clock.now(),
    source: change.source,
    ...(change.meta ? { meta: change.meta } : {}),
  });
  if (result.outcome === 'changed') {
    const record = await deps.credentials.get(change.id);
    if (record) await scheduleFor(deps, record, true);
  }
  return result;
}

export interface TrackInvitation {
  credentialId: string;
  personId: number;
  channel: string;
  systemId?: string | undefined;
  key?: string | undefined;
  runId?: string | undefined;
  /** DoorFlow's `invitation_expires_at`, when given. */
  expiresAt?: string | null | undefined;
  /** The credential's status when issued; default `invited`. */
  status?: string | null | undefined;
  /** Encrypted code, kept (encrypted) for reminders through our own channels. */
  encryptedCode?: string | undefined;
  replaces?: string | undefined;
}

/**
 * Starts tracking an issued invitation: records its status with metadata, keeps the encrypted
 * code for reminders when a reminder may need it, and schedules reminders, expiry and polling.
 * Called once the invitation has been delivered (or handed to DoorFlow); safe to call twice.
 */
export async function startTracking(deps: LifecycleDeps, t: TrackInvitation): Promise<void> {
  const now = deps.clock.now();
  const parsedExpiry = t.expiresAt ? Date.parse(t.expiresAt) : Number.NaN;
  const meta: CredentialMeta = {
    personId: t.personId,
    channel: t.channel,
    ...(t.systemId ? { systemId: t.systemId } : {}),
    ...(t.key ? { key: t.key } : {}),
    ...(t.runId ? { runId: t.runId } : {}),
    ...(Number.isNaN(parsedExpiry) ? {} : { expiresAt: parsedExpiry }),
    ...(t.replaces ? { replaces: t.replaces } : {}),
  };
  const lc = deps.config.lifecycle;
  await deps.credentials.setMeta(t.credentialId, meta);
  // A webhook may already have recorded a later status (the person accepted within seconds):
  // the issue status is only the first entry, never a step back.
  const known = await deps.credentials.get(t.credentialId);
  if (!known?.status) {
    await deps.credentials.recordStatus({
      id: t.credentialId,
      status: t.status ?? 'invited',
      atMs: now,
      source: 'issued',
    });
  }
  const record = await deps.credentials.get(t.credentialId);
  if (!record) return;
  if (record.status === 'invited' && t.encryptedCode && lc.reminderMax > 0 && t.channel !== 'doorflow') {
    const deadline = invitationDeadline(record, lc.invitationTtlMs, now);
    if (deadline > now) await deps.codes.keep(t.credentialId, t.encryptedCode, deadline - now);
  }
  // Scheduling is idempotent: also re-run when the status was already known (e.g. a webhook
  // recorded `invited` before the delivery finished and lacked the channel for reminders).
  await scheduleFor(deps, record, false);
}

/** Asks for a person's live HID credentials (or one) to be revoked (CLI, sync offboarding, expiry). */
export async function requestRevocation(
  queues: Queues,
  request: {
    personId: number;
    credentialId?: string;
    reason?: string;
    systemId?: string;
    requestedBy?: string;
    /** Distinguishes separate requests (e.g. each CLI invocation); equal ids add one job. */
    requestId?: string;
  },
): Promise<string> {
  const payload: RevocationPayload = {
    personId: request.personId,
    reason: request.reason ?? 'revoke',
    requestedBy: request.requestedBy ?? 'cli',
    ...(request.credentialId ? { credentialId: request.credentialId } : {}),
    ...(request.systemId ? { systemId: request.systemId } : {}),
  };
  // Revoking is idempotent (already revoking/revoked sends nothing), so separate requests may
  // each run; the finished job is kept an hour so `revoke --wait` can read its summary.
  const id = jobId('revoke', request.personId, request.credentialId ?? 'all', request.requestId ?? 'once');
  await queues.add('revocation', payload, { jobId: id, removeOnComplete: { age: 3600, count: 10_000 } });
  return id;
}
