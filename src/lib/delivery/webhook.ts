import { createHmac } from 'node:crypto';
import type { Got } from 'got';
import { parseRetryAfterMs } from '../core/backoff.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { ProvisionerError, RETRYABLE_STATUSES } from '../core/errors.ts';
import type { DeliveryChannel, Invitation, Recipient } from './channel.ts';

/**
 * The webhook channel: a signed JSON POST to DELIVERY_WEBHOOK_URL. One message shape for the first
 * delivery, reminders and reissues, so a receiver always gets the same body, signed the same way:
 * `X-Provisioner-Signature` = hex HMAC-SHA256(`${timestamp}.${rawBody}`, DELIVERY_WEBHOOK_SECRET).
 * A 2xx is a confirmed send; 408, 429 and 5xx are retryable, other statuses permanent. Redirects
 * are never followed: a 3xx is a permanent failure (the body carries the code).
 */

const CHANNEL = 'webhook';

/** Error from the receiver, with its HTTP status for the dead-letter record. */
class WebhookDeliveryError extends ProvisionerError {
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

/** What the webhook channel needs from the delivery settings. */
export type WebhookSettings = Pick<
  Config['delivery'],
  'webhookUrl' | 'webhookSecret' | 'appName' | 'supportContact'
>;

/** Where webhook messages go; without DELIVERY_WEBHOOK_URL and _SECRET the job fails permanently. */
function webhookTarget(delivery: WebhookSettings): { url: string; secret: string } {
  const { webhookUrl, webhookSecret } = delivery;
  if (!webhookUrl || !webhookSecret) {
    throw new ProvisionerError(
      'webhook_not_configured',
      'DELIVERY_WEBHOOK_URL and DELIVERY_WEBHOOK_SECRET are required',
      { retryable: false },
    );
  }
  return { url: webhookUrl, secret: webhookSecret };
}

/** The signature header value for a body sent at `timestamp` (unix seconds). */
export function signWebhook(secret: string, timestamp: number, rawBody: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
}

/** The idempotency key of a credential's webhook delivery. */
function deliveryId(credentialId: string): string {
  return `${credentialId}.${CHANNEL}`;
}

/** The delivery id of one message: stable per message, so a receiver drops a repeat of the same one. */
function webhookMessageId(inv: Invitation): string {
  return inv.reminder !== undefined
    ? `${deliveryId(inv.credentialId)}.reminder-${inv.reminder}`
    : deliveryId(inv.credentialId);
}

function instructionsText(appName: string, supportContact: string | undefined): string {
  const support = supportContact ? ` Questions: ${supportContact}.` : '';
  return `Install the ${appName} app, open it and enter the invitation code. Your mobile key usually appears within seconds.${support}`;
}

/**
 * The JSON body the receiver gets; `reminder` only on reminders. Key order is part of the signed
 * bytes, so keep it.
 */
export function webhookMessageBody(
  to: Recipient,
  inv: Invitation,
  instructions: string,
): Record<string, unknown> {
  return {
    /** Stable per credential and channel: a receiver drops repeats (a send cut off by a crash is retried). */
    delivery_id: webhookMessageId(inv),
    run_id: inv.runId ?? null,
    person: {
      id: to.personId,
      system_id: to.systemId ?? null,
      first_name: to.firstName,
      last_name: to.lastName,
      email: to.email ?? null,
    },
    credential: { id: inv.credentialId, status: inv.credentialStatus ?? 'invited' },
    invitation_code: inv.code,
    invitation_expires_at: inv.expiresAt ?? null,
    instructions,
    ...(inv.reminder !== undefined ? { reminder: inv.reminder } : {}),
  };
}

/**
 * The webhook channel over `http` (retries off: BullMQ is the one retry layer); `clock` stamps the
 * signature, `timeoutMs` bounds each request.
 */
export function createWebhookChannel(options: {
  settings: WebhookSettings;
  http: Got;
  clock: Clock;
  timeoutMs: number;
}): DeliveryChannel {
  const { settings, http, clock, timeoutMs } = options;
  return {
    name: CHANNEL,
    preflight() {
      webhookTarget(settings);
    },
    async send(to, inv, signal) {
      const { url, secret } = webhookTarget(settings);
      const rawBody = JSON.stringify(
        webhookMessageBody(to, inv, instructionsText(settings.appName, settings.supportContact)),
      );
      const timestamp = Math.floor(clock.now() / 1000);
      const response = await http.post(url, {
        body: rawBody,
        headers: {
          'content-type': 'application/json',
          'x-provisioner-timestamp': String(timestamp),
          'x-provisioner-delivery': webhookMessageId(inv),
          'x-provisioner-signature': signWebhook(secret, timestamp, rawBody),
        },
        throwHttpErrors: false,
        // A redirect would forward the signed body, code included, to wherever the receiver points.
        followRedirect: false,
        retry: { limit: 0 },
        timeout: { request: timeoutMs },
        ...(signal ? { signal } : {}),
      });
      const status = response.statusCode;
      if (status >= 200 && status < 300) return;
      if (status >= 300 && status < 400) {
        throw new WebhookDeliveryError(
          'webhook_redirected',
          `delivery webhook answered HTTP ${status} (a redirect; delivery requests follow none)`,
          status,
          false,
        );
      }
      const retryable = RETRYABLE_STATUSES.has(status);
      // The receiver's own words say why; they may echo the body (the delivery channels scrub the code).
      const reply = String(response.body ?? '')
        .replace(/\s+/g, ' ')
        .trim();
      throw new WebhookDeliveryError(
        retryable ? 'webhook_failed' : 'webhook_rejected',
        `delivery webhook answered HTTP ${status}${reply ? `: ${reply}` : ''}`,
        status,
        retryable,
        parseRetryAfterMs(response.headers['retry-after'], undefined),
      );
    },
    // The repeat carries the same delivery id (and X-Provisioner-Delivery): receivers drop it.
    recover: () => Promise.resolve('resend'),
    close() {},
  };
}
