import { z } from 'zod';
import type { StatusEventPayload } from '../../lib/jobs/lifecycle-payloads.ts';
import { defineProcessor } from '../../lib/jobs/define-processor.ts';
import { recordAndSchedule } from './schedule.ts';
import type { JobContext, ProcessorDeps } from '../context.ts';
import { isNotFound, lifecycleDeps } from './track.ts';

/**
 * A DoorFlow webhook event, verified and enqueued by `serve`. Real format: GET the `resource` URL
 * (it carries the `ack_token`, so the read also acknowledges the event) and record the status it
 * shows — the notice itself carries none — on the credential the fetched resource names (not the
 * notice's `resource_id`). A 404 counts only when a second read confirms it: DESTROY is then
 * recorded as `revoked`, anything else as `deleted`. Events are deduplicated on (resource_type,
 * resource_id, ack_token). Seed format carries the new status.
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

/**
 * GETs the notice's resource. A 404 is read a second time before it counts ('gone'): one 404 can
 * be a replica or cache that has not seen the credential yet, and a deletion is not undone.
 */
async function readResource(url: string, deps: ProcessorDeps, ctx: JobContext): Promise<unknown> {
  for (let read = 1; ; read++) {
    try {
      return await deps.doorflow.getResource(url, { signal: ctx.signal });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      if (read >= 2) return 'gone';
      ctx.logger.debug('webhook resource 404; reading it once more before recording a deletion');
    }
  }
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
  let credentialId = p.resourceId;
  let personId = personIdFromUrl(p.resource);
  const fetched = await readResource(p.resource, deps, ctx);
  if (fetched === 'gone') {
    // Two reads agreed: DESTROY of a mobile credential ends its revocation; otherwise it is gone.
    status = p.action.toUpperCase() === 'DESTROY' ? 'revoked' : 'deleted';
  } else {
    const body = resourceSchema.safeParse(fetched);
    if (body.success) {
      // The fetched resource names the credential; the notice's resource_id is only a hint.
      if (body.data.id !== p.resourceId) {
        ctx.logger.warn(
          { resourceId: p.resourceId, fetchedId: body.data.id },
          'webhook notice resource_id differs from the fetched credential; the fetched one is updated',
        );
      }
      credentialId = body.data.id;
      status = body.data.status ?? undefined;
      personId = body.data.person_id ?? personId;
    } else {
      ctx.logger.warn({ resourceId: p.resourceId }, 'webhook resource is not a credential; ignored');
    }
  }
  let outcome = 'ignored';
  if (status) {
    const r = await recordAndSchedule(ld, {
      id: credentialId,
      status,
      source: 'webhook',
      ...(personId ? { meta: { personId } } : {}),
    });
    outcome = r.outcome;
  }
  if (p.ackToken) await deps.redis.set(ackKey, '1', 'EX', ACK_TTL_SEC);
  ctx.logger.debug({ credentialId, status, outcome }, 'status event processed');
  return outcome;
}
