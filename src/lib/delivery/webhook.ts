import { createHmac } from 'node:crypto';
import type { Config } from '../core/config.ts';
import { ProvisionerError } from '../core/errors.ts';
import type { Invitation, Recipient } from './send-code.ts';

/**
 * The webhook channel's message: body, delivery id, signature and error type. One definition for
 * the first delivery (deliver-webhook.ts), reminders and reissues (send-code.ts), so a receiver
 * always gets the same shape, signed the same way:
 * `X-Provisioner-Signature` = hex HMAC-SHA256(`${timestamp}.${rawBody}`, DELIVERY_WEBHOOK_SECRET).
 */

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

/** Where webhook messages go; without DELIVERY_WEBHOOK_URL and _SECRET the job fails permanently. */
export function webhookTarget(delivery: Config['delivery']): { url: string; secret: string } {
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
export function deliveryId(credentialId: string): string {
  return `${credentialId}.${CHANNEL}`;
}

/** The delivery id of one message: stable per message, so a receiver drops a repeat of the same one. */
export function webhookMessageId(inv: Invitation): string {
  return inv.reminder !== undefined
    ? `${deliveryId(inv.credentialId)}.reminder-${inv.reminder}`
    : deliveryId(inv.credentialId);
}

export function instructionsText(appName: string, supportContact: string | undefined): string {
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
