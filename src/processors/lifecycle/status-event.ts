import { z } from 'zod';
import type { StatusEventPayload } from '../../lib/jobs/lifecycle-payloads.ts';
import { defineProcessor } from '../../lib/jobs/define-processor.ts';
import { recordAndSchedule } from './schedule.ts';
import type { JobContext, ProcessorDeps } from '../context.ts';
import { isNotFound, lifecycleDeps } from './track.ts';

/**
 * A DoorFlow webhook event, verified and enqueued by `serve`. Real format: GET the `resource` URL
 * (it carries the `ack_token`, so the read also acknowledges the event) and record the status it
 * shows — the notice itself carries none. DESTROY may 404: recorded as `revoked`. Events are
 * deduplicated on (resource_type, resource_id, ack_token). Seed format carries the new status.
 */

export const statusEventProcessor = defineProcessor('status-events', handle);

const ACK_TTL_SEC = 7 * 86_400;

const resourceSchema = z.looseObject({
  id: z.union([z.string(), z.number()]).transform(String),
  status: z.string().nullish(),
  person_id: z.coerce.number().int().positive().optional(),
});

function personIdFromUrl(url: string): number | undefined {
  const match = /\/people\/(\d+)\/credentials\//.exec(url);
  return match ? Number(match[1]) : undefined;
}

async function handle(p: StatusEventPayload, deps: ProcessorDeps, ctx: JobContext): Promise<string> {
  const ld = lifecycleDeps(deps);
  if (p.format === 'seed') {
    const at = p.timestamp ? Date.parse(p.timestamp) : Number.NaN;
    const r = await recordAndSchedule(ld, {
      id: p.credentialId,
      status: p.newStatus,
      source: 'webhook-seed',
      ...(Number.isNaN(at) ? {} : { atMs: at }),
      ...(p.personId ? { meta: { personId: p.personId } } : {}),
    });
    return r.outcome;
  }
  const ackKey = deps.keys.webhookAck(p.resourceType, p.resourceId, p.ackToken);
  if (p.ackToken && (await deps.redis.exists(ackKey))) return 'duplicate';

  let status: string | undefined;
  let personId = personIdFromUrl(p.resource);
  try {
    const body = resourceSchema.safeParse(
      await deps.doorflow.getResource(p.resource, { signal: ctx.signal }),
    );
    if (body.success) {
      status = body.data.status ?? undefined;
      personId = body.data.person_id ?? personId;
    } else {
      ctx.logger.warn({ resourceId: p.resourceId }, 'webhook resource is not a credential; ignored');
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
    // DESTROY of a mobile credential is the end of its revocation; any other 404 means it is gone.
    status = p.action.toUpperCase() === 'DESTROY' ? 'revoked' : 'deleted';
  }
  let outcome = 'ignored';
  if (status) {
    const r = await recordAndSchedule(ld, {
      id: p.resourceId,
      status,
      source: 'webhook',
      ...(personId ? { meta: { personId } } : {}),
    });
    outcome = r.outcome;
  }
  if (p.ackToken) await deps.redis.set(ackKey, '1', 'EX', ACK_TTL_SEC);
  ctx.logger.debug({ credentialId: p.resourceId, status, outcome }, 'status event processed');
  return outcome;
}
