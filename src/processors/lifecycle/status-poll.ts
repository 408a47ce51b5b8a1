import { MOVING_STATUSES } from '../../lib/store/credentials.ts';
import type { StatusPollPayload } from '../../lib/jobs/lifecycle-payloads.ts';
import { defineProcessor } from '../../lib/jobs/define-processor.ts';
import { pollIntervalMs, pollTimer } from './schedule.ts';
import type { JobContext, ProcessorDeps } from '../context.ts';
import { notYetDue, refreshStatus } from './track.ts';

/**
 * Polling fallback: a credential whose status has not moved within STATUS_POLL_AFTER is read from
 * DoorFlow (through the client, so within the fleet-wide budget), so a lost webhook never leaves
 * it stuck. Still not moved → poll again later, the interval doubling up to 6 h. A change (by
 * webhook or poll) makes this chain moot; the new status starts its own.
 */

export const statusPollProcessor = defineProcessor('status-poll', handle);

async function handle(p: StatusPollPayload, deps: ProcessorDeps, ctx: JobContext): Promise<string> {
  const early = await notYetDue(p.dueAt, deps, ctx);
  if (early) throw early;
  const record = await deps.credentials.get(p.credentialId);
  if (!record?.status || record.since !== p.since || !MOVING_STATUSES.has(record.status)) return 'moot';

  const { status, result } = await refreshStatus(deps, p.personId, p.credentialId, 'poll', ctx.signal);
  if (result.outcome === 'changed') {
    ctx.logger.debug(
      { credentialId: p.credentialId, from: result.previous, to: status },
      'status moved (poll)',
    );
    return 'moved';
  }
  const n = p.n + 1;
  const interval = pollIntervalMs(deps.config.lifecycle.statusPollAfterMs, n);
  const ref = { credentialId: p.credentialId, personId: p.personId };
  await deps.timers.schedule(
    p.credentialId,
    [pollTimer(ref, p.since, n, deps.clock.now() + interval)],
    false,
  );
  return 'unchanged';
}
