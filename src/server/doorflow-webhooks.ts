import express, { type Express, type Request, type Response } from 'express';
import { z } from 'zod';
import { type Clock, systemClock } from '../lib/core/clock.ts';
import type { StatusEventPayload } from '../lib/jobs/lifecycle-payloads.ts';
import type { Logger } from '../lib/core/logger.ts';
import { encodeKey, type Queues } from '../lib/jobs/registry.ts';
import { replayTtlMs, verifyDoorflowSignature } from '../lib/doorflow/webhook-verify.ts';
import type { WebhookSignatureStore } from '../lib/store/webhook-signatures.ts';
import { isRedisUnavailable } from '../lib/core/redis-errors.ts';
import type { HttpModule } from './app.ts';

/**
 * `POST /webhooks/doorflow`: verify, answer at once, enqueue. Order matters: size limit (413),
 * signature and window (401), JSON shape (400), replay claim (401), enqueue, 200. Nothing is
 * written before the request has proved it comes from DoorFlow and is new; the work itself (fetch
 * the resource, acknowledge, record the status) happens in the `status-events` processor.
 */

export const WEBHOOK_PATH = '/webhooks/doorflow';
const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

export interface DoorflowWebhookDeps {
  /** The app's webhook secret (`WEBHOOK_SECRET`). Required: `serve` refuses to start without it. */
  secret: string;
  acceptSeedFormat: boolean;
  /** Accepted signatures (replay protection). */
  signatures: WebhookSignatureStore;
  logger: Logger;
  /** Adds the events to the `status-events` queue. */
  enqueue(events: StatusEventPayload[]): Promise<void>;
  /** Wall clock for the ±5 min window (real time, not the lifecycle clock). */
  wallClock?: Clock;
  maxBodyBytes?: number;
  toleranceMs?: number;
  /**
   * Where DoorFlow posts: {@link webhookPaths} of the account (`/webhooks/doorflow/:account`, and
   * `/webhooks/doorflow` for the default account). Default {@link WEBHOOK_PATH}.
   */
  paths?: readonly string[];
}

/** The receiver's paths for an account: its own, and the bare one for the default account. */
export function webhookPaths(account: string): string[] {
  const own = `${WEBHOOK_PATH}/${encodeURIComponent(account)}`;
  return account === 'default' ? [WEBHOOK_PATH, own] : [own];
}

const realEventSchema = z.object({
  action: z.string(),
  resource: z.string().optional(),
  resource_url: z.string().optional(),
  resource_type: z.string(),
  resource_id: z.union([z.string().min(1), z.number()]).transform(String),
  account_id: z.union([z.string(), z.number()]).transform(String).optional(),
  ack_token: z.string().optional(),
});
const realBodySchema = z.union([z.array(realEventSchema), realEventSchema.transform((e) => [e])]);

const seedBodySchema = z.object({
  event: z.string().optional(),
  credential_id: z.union([z.string().min(1), z.number()]).transform(String),
  person_id: z.coerce.number().int().positive().optional(),
  old_status: z.string().nullish(),
  new_status: z.string().min(1),
  timestamp: z.string().optional(),
});

function ackTokenOf(resource: string | undefined, given: string | undefined): string {
  if (given) return given;
  try {
    return resource ? (new URL(resource).searchParams.get('ack_token') ?? '') : '';
  } catch {
    return '';
  }
}

/** Parses a verified body into queue payloads; undefined when it is not what DoorFlow sends. */
export function parseWebhookBody(
  format: 'real' | 'seed',
  json: unknown,
  receivedAt: number,
): StatusEventPayload[] | undefined {
  if (format === 'seed') {
    const seed = seedBodySchema.safeParse(json);
    if (!seed.success) return undefined;
    const e = seed.data;
    return [
      {
        format: 'seed',
        credentialId: e.credential_id,
        ...(e.person_id === undefined ? {} : { personId: e.person_id }),
        oldStatus: e.old_status ?? null,
        newStatus: e.new_status,
        ...(e.timestamp === undefined ? {} : { timestamp: e.timestamp }),
        receivedAt,
      },
    ];
  }
  const real = realBodySchema.safeParse(json);
  if (!real.success) return undefined;
  const out: StatusEventPayload[] = [];
  for (const e of real.data) {
    const resource = e.resource ?? e.resource_url;
    // Only credential changes matter here; other notices (access events) are accepted and dropped.
    if (e.resource_type !== 'PersonCredential' || !resource) continue;
    out.push({
      format: 'real',
      action: e.action,
      resourceType: e.resource_type,
      resourceId: e.resource_id,
      resource,
      ackToken: ackTokenOf(resource, e.ack_token),
      ...(e.account_id === undefined ? {} : { accountId: e.account_id }),
      receivedAt,
    });
  }
  return out;
}

export function doorflowWebhookModule(deps: DoorflowWebhookDeps): HttpModule {
  const wallClock = deps.wallClock ?? systemClock;
  const paths = deps.paths ?? [WEBHOOK_PATH];
  const log = deps.logger.child({ route: paths[0] });
  const reject = (res: Response, status: number, reason: string) => {
    log.warn({ status, reason }, 'doorflow webhook rejected');
    res.status(status).json({ error: status === 401 ? 'unauthorized' : reason });
  };

  const handle = async (req: Request, res: Response) => {
    const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const nowMs = wallClock.now();
    const verified = verifyDoorflowSignature({
      headers: req.headers,
      rawBody,
      secret: deps.secret,
      nowMs,
      acceptSeedFormat: deps.acceptSeedFormat,
      ...(deps.toleranceMs === undefined ? {} : { toleranceMs: deps.toleranceMs }),
    });
    if (!verified.ok) return reject(res, 401, verified.reason);

    let json: unknown;
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      return reject(res, 400, 'malformed_json');
    }
    const events = parseWebhookBody(verified.format, json, nowMs);
    if (!events) return reject(res, 400, 'unexpected_payload');

    const ttl = replayTtlMs(verified.format, deps.toleranceMs);
    let claimed: boolean;
    try {
      claimed = await deps.signatures.claim(verified.signature, ttl);
    } catch (err) {
      // Redis away: nothing recorded, so no acknowledgement — a 503 makes DoorFlow redeliver.
      log.warn(
        { reason: isRedisUnavailable(err) ? 'redis_unavailable' : 'claim_failed' },
        'doorflow webhook not recorded',
      );
      res.status(503).json({ error: 'unavailable' });
      return;
    }
    if (!claimed) return reject(res, 401, 'replayed');
    try {
      if (events.length > 0) await deps.enqueue(events);
    } catch (err) {
      // Give the claim back so DoorFlow's retry of this same request is not taken for a replay.
      await deps.signatures.release(verified.signature).catch(() => undefined);
      if (isRedisUnavailable(err)) log.warn('could not enqueue doorflow webhook events: redis unavailable');
      else log.error({ err }, 'could not enqueue doorflow webhook events');
      res.status(503).json({ error: 'unavailable' });
      return;
    }
    log.debug({ format: verified.format, events: events.length }, 'doorflow webhook accepted');
    res.status(200).json({ received: events.length });
  };

  return {
    name: 'doorflow-webhooks',
    mount(app: Express) {
      app.post(
        [...paths],
        // Raw bytes whatever the content type: the signature covers them exactly.
        express.raw({ type: () => true, limit: deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES }),
        handle,
      );
    },
  };
}

/**
 * Job id of one event: the same notice delivered twice (DoorFlow redelivery, a duplicate POST
 * with a fresh signature) maps to the same job while it is retained, so it is processed once.
 */
export function statusEventJobId(e: StatusEventPayload): string {
  const parts =
    e.format === 'real'
      ? ['evt', e.resourceType, e.resourceId, e.ackToken || String(e.receivedAt)]
      : ['seed', e.credentialId, e.newStatus, e.timestamp ?? String(e.receivedAt)];
  return parts.map(encodeKey).join('--');
}

/** The production `enqueue`: one `status-events` job per event. */
export function statusEventEnqueuer(queues: Queues): (events: StatusEventPayload[]) => Promise<void> {
  return async (events) => {
    await queues.addBulk(
      'status-events',
      events.map((payload) => ({ payload, opts: { jobId: statusEventJobId(payload) } })),
    );
  };
}
