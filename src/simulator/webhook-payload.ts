import { createHmac } from 'node:crypto';
import type { WebhookAction } from './lifecycle.ts';

/** What the simulator's webhooks look like on the wire: bodies in both formats and their signatures. */

/** One credential change waiting to be (re)delivered. */
export interface WebhookEvent {
  seq: number;
  action: WebhookAction;
  credentialId: string;
  personId: number;
  oldStatus: string | null;
  newStatus: string | null;
  atMs: number;
  ackToken: string;
  redelivered: boolean;
}

/** Real format: hex HMAC-SHA256 of `Timestamp + "." + rawBody`. */
export function signReal(secret: string, timestamp: string, rawBody: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
}

/** Seed format: hex HMAC-SHA256 of the raw body. */
export function signSeed(secret: string, rawBody: string): string {
  return createHmac('sha256', secret).update(rawBody).digest('hex');
}

/** `real`: one JSON array of thin notices; `seed`: one `credential.status_changed` object (first event). */
export function webhookBody(
  events: readonly WebhookEvent[],
  format: 'real' | 'seed',
  resourceUrl: (personId: number, credentialId: string, ackToken: string) => string,
  accountId: string,
): string {
  if (format === 'seed') {
    const e = events[0] as WebhookEvent;
    return JSON.stringify({
      event: 'credential.status_changed',
      credential_id: e.credentialId,
      person_id: e.personId,
      old_status: e.oldStatus,
      new_status: e.newStatus,
      timestamp: new Date(e.atMs).toISOString(),
    });
  }
  return JSON.stringify(
    events.map((e) => ({
      action: e.action,
      resource: resourceUrl(e.personId, e.credentialId, e.ackToken),
      resource_type: 'PersonCredential',
      resource_id: e.credentialId,
      account_id: accountId,
      ack_token: e.ackToken,
    })),
  );
}
