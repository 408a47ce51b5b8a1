import { decryptSecret } from '../../lib/core/crypto.ts';
import type { ReminderPayload } from '../../lib/jobs/lifecycle-payloads.ts';
import { defineProcessor } from '../../lib/jobs/define-processor.ts';
import { scheduleNextReminder } from './schedule.ts';
import type { JobContext, ProcessorDeps } from '../context.ts';
import { lifecycleDeps, notYetDue, recipientOf, refreshStatus } from './track.ts';
import { isOwnChannel } from '../../lib/delivery/channel-names.ts';

/**
 * Still `invited` REMINDER_AFTER after the invitation (default 3 days)? Send reminder `n` through
 * the same channel, at most REMINDER_MAX. The credential is re-read first (it may have been
 * accepted with the webhook lost); the code comes from that read when DoorFlow returns it, else
 * from the encrypted reminder copy (lib/store/codes.ts). Each reminder is recorded once
 * sent (`delivered:{credential}:{channel}-reminder-{n}`), so a retry never sends it twice.
 */

export const reminderProcessor = defineProcessor('reminder', handle);

async function handle(p: ReminderPayload, deps: ProcessorDeps, ctx: JobContext): Promise<string> {
  const early = await notYetDue(p.dueAt, deps, ctx);
  if (early) throw early;
  const record = await deps.credentials.get(p.credentialId);
  if (record?.status !== 'invited') return 'moot';
  const channel = record.channel;
  if (!channel || !isOwnChannel(channel)) return 'not_our_channel';
  const marker = `${channel}-reminder-${p.n}`;
  if (await deps.deliveries.find(p.credentialId, marker)) return 'already_sent';

  const { credential, status } = await refreshStatus(deps, p.personId, p.credentialId, 'poll', ctx.signal);
  if (status !== 'invited' || !credential) return 'moot';
  let code = credential.invitation_code ?? undefined;
  if (!code) {
    const stored = await deps.codes.load(p.credentialId);
    if (stored && deps.config.encryptionKey) code = decryptSecret(deps.config.encryptionKey, stored);
  }
  if (!code) {
    ctx.logger.warn({ credentialId: p.credentialId }, 'reminder skipped: no invitation code available');
    return 'no_code';
  }
  const to = await recipientOf(deps, p.personId, ctx.signal);
  await deps.channels.get(channel).send(
    to,
    {
      credentialId: p.credentialId,
      credentialStatus: status,
      code,
      expiresAt:
        credential.invitation_expires_at ??
        (record.expiresAt ? new Date(record.expiresAt).toISOString() : null),
      reminder: p.n,
    },
    ctx.signal,
  );
  await deps.deliveries.record(p.credentialId, marker, {
    runId: record.runId ?? 'reminder',
    key: record.key ?? '',
    at: deps.clock.now(),
  });
  await deps.credentials.setCounter(p.credentialId, 'reminders', p.n);
  ctx.logger.debug({ credentialId: p.credentialId, channel, n: p.n }, 'reminder sent');
  const updated = await deps.credentials.get(p.credentialId);
  if (updated) await scheduleNextReminder(lifecycleDeps(deps), updated);
  return 'sent';
}
