import { createHmac } from 'node:crypto';
import { decryptSecret } from '../lib/crypto.ts';
import { findDelivery, recordDelivery } from '../lib/deliveries.ts';
import { ProvisionerError, RETRYABLE_STATUSES } from '../lib/errors.ts';
import { parseRetryAfterMs } from '../lib/backoff.ts';
import { startTracking } from '../lib/lifecycle.ts';
import { tryLock } from '../lib/locks.ts';
import { type DeliveryPayload, deliveryPayloadSchema } from '../lib/queues.ts';
import { contentionDelayMs, type JobContext, lockTtlMs, type ProcessorDeps } from './context.ts';

/**
 * Step 4 (webhook channel): POST the invitation to DELIVERY_WEBHOOK_URL, signed with
 * `X-Provisioner-Signature` = hex HMAC-SHA256(`${timestamp}.${rawBody}`, DELIVERY_WEBHOOK_SECRET).
 * A 2xx is a confirmed send: recorded once (`delivered:{credential}:webhook`), so a retried or
 * replayed job never sends again. The code is dropped from the job data afterwards.
 */

export const queueName = 'delivery-webhook' as const;
export const payloadSchema = deliveryPayloadSchema;
const CHANNEL = 'webhook';

/** Error from the receiver, with its HTTP status for the dead-letter record. */
export class WebhookDeliveryError extends ProvisionerError {
  readonly status: number | undefined;
  constructor(
    code: string,
    message: string,
    status: number | undefined,
    retryable: boolean,
    retryAfterMs?: number,
  ) {
    super(code, message, { retryable, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    this.status = status;
  }
}

/** The signature header value for a body sent at `timestamp` (unix seconds). */
export function signWebhook(secret: string, timestamp: number, rawBody: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
}

/** The idempotency key of a credential's webhook delivery. */
export function deliveryId(credentialId: string): string {
  return `${credentialId}.${CHANNEL}`;
}

/** The JSON body the receiver gets. */
export function webhookBody(p: DeliveryPayload, code: string, instructions: string): Record<string, unknown> {
  return {
    /** Stable per credential and channel: a receiver drops repeats (a send cut off by a crash is retried). */
    delivery_id: deliveryId(p.credentialId),
    run_id: p.runId,
    person: {
      id: p.personId,
      system_id: p.entry.system_id ?? null,
      first_name: p.entry.first_name,
      last_name: p.entry.last_name,
      email: p.entry.email ?? null,
    },
    credential: { id: p.credentialId, status: p.credentialStatus ?? 'invited' },
    invitation_code: code,
    invitation_expires_at: p.expiresAt ?? null,
    instructions,
  };
}

export function instructionsText(appName: string, supportContact: string | undefined): string {
  const support = supportContact ? ` Questions: ${supportContact}.` : '';
  return `Install the ${appName} app, open it and enter the invitation code. Your mobile key usually appears within seconds.${support}`;
}

export async function handle(p: DeliveryPayload, deps: ProcessorDeps, ctx: JobContext): Promise<string> {
  const { webhookUrl, webhookSecret } = deps.config.delivery;
  if (!webhookUrl || !webhookSecret) {
    throw new ProvisionerError(
      'webhook_not_configured',
      'DELIVERY_WEBHOOK_URL and DELIVERY_WEBHOOK_SECRET are required',
      {
        retryable: false,
      },
    );
  }
  const finish = async (outcome: 'provisioned' | 'already_provisioned') => {
    await deps.runs.move(p.runId, p.key, outcome, {
      personId: p.personId,
      credentialId: p.credentialId,
      channel: CHANNEL,
    });
    await ctx.updateData({ ...p, encryptedCode: undefined });
    return outcome;
  };
  const before = await findDelivery(deps.redis, deps.prefix, p.credentialId, CHANNEL);
  if (before) return await finish(before.runId === p.runId ? 'provisioned' : 'already_provisioned');

  const release = await tryLock(
    deps.redis,
    `${deps.prefix}:lock:deliver:${p.credentialId}:${CHANNEL}`,
    ctx.jobId,
    lockTtlMs(deps.config),
  );
  if (!release) throw await ctx.delay(contentionDelayMs());
  try {
    // Re-check under the lock: another run may have sent it while we waited.
    const raced = await findDelivery(deps.redis, deps.prefix, p.credentialId, CHANNEL);
    if (raced) return await finish(raced.runId === p.runId ? 'provisioned' : 'already_provisioned');
    const key = deps.config.encryptionKey;
    if (!p.encryptedCode || !key) {
      throw new ProvisionerError(
        'code_missing',
        'delivery job carries no invitation code (replay from invitation)',
        {
          retryable: false,
        },
      );
    }
    const code = decryptSecret(key, p.encryptedCode);
    const rawBody = JSON.stringify(
      webhookBody(
        p,
        code,
        instructionsText(deps.config.delivery.appName, deps.config.delivery.supportContact),
      ),
    );
    const timestamp = Math.floor(deps.clock.now() / 1000);
    const response = await deps.http.post(webhookUrl, {
      body: rawBody,
      headers: {
        'content-type': 'application/json',
        'x-provisioner-timestamp': String(timestamp),
        'x-provisioner-delivery': deliveryId(p.credentialId),
        'x-provisioner-signature': signWebhook(webhookSecret, timestamp, rawBody),
      },
      throwHttpErrors: false,
      retry: { limit: 0 },
      timeout: { request: deps.config.doorflow.timeoutMs },
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    const status = response.statusCode;
    if (status >= 200 && status < 300) {
      await recordDelivery(deps.redis, deps.prefix, p.credentialId, CHANNEL, {
        runId: p.runId,
        key: p.key,
        at: deps.clock.now(),
      });
      ctx.logger.info({ credentialId: p.credentialId, status }, 'invitation delivered by webhook');
      // Lifecycle (reminders, expiry, polling): see lib/lifecycle.ts. Never fails the delivery.
      await startTracking(deps, {
        credentialId: p.credentialId,
        personId: p.personId,
        channel: CHANNEL,
        systemId: p.entry.system_id,
        key: p.key,
        runId: p.runId,
        expiresAt: p.expiresAt,
        status: p.credentialStatus,
        encryptedCode: p.encryptedCode,
      }).catch((err: unknown) => ctx.logger.warn({ err }, 'could not start lifecycle tracking'));
      return await finish('provisioned');
    }
    const retryable = RETRYABLE_STATUSES.has(status);
    throw new WebhookDeliveryError(
      retryable ? 'webhook_failed' : 'webhook_rejected',
      `delivery webhook answered HTTP ${status}`,
      status,
      retryable,
      parseRetryAfterMs(response.headers['retry-after'], undefined),
    );
  } finally {
    await release();
  }
}
