import type { StuckCheckPayload } from '../../lib/jobs/lifecycle-payloads.ts';
import { defineProcessor } from '../../lib/jobs/define-processor.ts';
import type { JobContext, ProcessorDeps } from '../context.ts';
import { alert, notYetDue, refreshStatus } from './track.ts';

/**
 * A credential still `provisioning` STUCK_PROVISIONING_AFTER (default 10 min) after it got
 * there: first re-read it (a webhook may have been lost), then alert — warn log, the
 * `alerts:count` counter (exported as a metric), and ALERT_WEBHOOK_URL when set. Once per stay.
 */

export const stuckCheckProcessor = defineProcessor('stuck-check', handle);

async function handle(p: StuckCheckPayload, deps: ProcessorDeps, ctx: JobContext): Promise<string> {
  const early = await notYetDue(p.dueAt, deps, ctx);
  if (early) throw early;
  const record = await deps.credentials.get(p.credentialId);
  if (record?.status !== 'provisioning' || record.since !== p.since) return 'moot';
  const { result } = await refreshStatus(deps, p.personId, p.credentialId, 'poll', ctx.signal);
  if (result.outcome === 'changed') return 'moved';
  const minutes = Math.round((deps.clock.now() - p.since) / 60_000);
  await alert(deps, {
    kind: 'stuck_provisioning',
    dedupeKey: `${p.credentialId}:${p.since}`,
    message: `credential stuck in provisioning for ${minutes} min: ask the person to restart the app, check HID Origo, then contact support`,
    credentialId: p.credentialId,
    personId: p.personId,
    details: { minutes, systemId: record.systemId ?? null },
  });
  return 'alerted';
}
