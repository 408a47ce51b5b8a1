import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Verification of DoorFlow webhooks (see shared/doorflow-api.md §5).
 *
 * Real format: headers `Signature` (hex HMAC-SHA256 with the app's webhook secret) and `Timestamp`
 * (unix seconds); the MAC covers `${Timestamp}.${rawBody}`. DoorFlow documents no replay window;
 * we accept ±5 minutes and remember every accepted signature until it could no longer pass the
 * window, so a captured request cannot be replayed.
 *
 * Seed format (legacy, only when `WEBHOOK_ACCEPT_SEED_FORMAT=true`): `Signature` = hex
 * HMAC-SHA256 of the raw body, no timestamp. Without a timestamp there is no window: accepted
 * signatures are remembered for {@link SEED_REPLAY_TTL_MS}, which bounds — but cannot close —
 * the replay exposure. That is why the format is off by default.
 */

export type WebhookFormat = 'real' | 'seed';

export type VerifyFailure =
  | 'missing_signature'
  | 'missing_timestamp'
  | 'bad_timestamp'
  | 'stale_timestamp'
  | 'bad_signature';

export type VerifyResult =
  | { ok: true; format: WebhookFormat; signature: string; timestampSec: number | undefined }
  | { ok: false; reason: VerifyFailure };

export interface VerifyInput {
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
  secret: string;
  nowMs: number;
  /** Allowed clock difference either way, ms. Default {@link DEFAULT_TOLERANCE_MS}. */
  toleranceMs?: number;
  acceptSeedFormat: boolean;
}

export const DEFAULT_TOLERANCE_MS = 5 * 60_000;
export const SEED_REPLAY_TTL_MS = 24 * 3600_000;

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

function header(headers: VerifyInput['headers'], name: string): string | undefined {
  // Node lower-cases incoming header names; a repeated header is ambiguous, so it is not trusted.
  const value = headers[name.toLowerCase()];
  if (Array.isArray(value)) return undefined;
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** Constant-time comparison of two hex MACs; false on any length or format mismatch. */
export function safeEqualHex(expectedHex: string, givenHex: string): boolean {
  if (!SHA256_HEX.test(givenHex) || expectedHex.length !== givenHex.length) return false;
  const a = Buffer.from(expectedHex, 'hex');
  const b = Buffer.from(givenHex.toLowerCase(), 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export function hmacHex(secret: string, ...parts: (string | Buffer)[]): string {
  const mac = createHmac('sha256', secret);
  for (const part of parts) mac.update(part);
  return mac.digest('hex');
}

/** Checks signature and timestamp. Pure: replay protection is the store's `WebhookSignatureStore`. */
export function verifyDoorflowSignature(input: VerifyInput): VerifyResult {
  const raw = header(input.headers, 'signature');
  if (!raw) return { ok: false, reason: 'missing_signature' };
  const signature = raw.replace(/^sha256=/i, '');
  const timestamp = header(input.headers, 'timestamp');

  if (timestamp === undefined) {
    if (!input.acceptSeedFormat) return { ok: false, reason: 'missing_timestamp' };
    const expected = hmacHex(input.secret, input.rawBody);
    return safeEqualHex(expected, signature)
      ? { ok: true, format: 'seed', signature: signature.toLowerCase(), timestampSec: undefined }
      : { ok: false, reason: 'bad_signature' };
  }

  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'bad_timestamp' };
  const timestampSec = Number(timestamp);
  // Check the MAC before the window, so an attacker learns nothing about our clock from answers.
  const expected = hmacHex(input.secret, `${timestamp}.`, input.rawBody);
  if (!safeEqualHex(expected, signature)) return { ok: false, reason: 'bad_signature' };
  const tolerance = input.toleranceMs ?? DEFAULT_TOLERANCE_MS;
  if (Math.abs(input.nowMs - timestampSec * 1000) > tolerance)
    return { ok: false, reason: 'stale_timestamp' };
  return { ok: true, format: 'real', signature: signature.toLowerCase(), timestampSec };
}

/** How long an accepted signature must be remembered to make a replay impossible. */
export function replayTtlMs(format: WebhookFormat, toleranceMs = DEFAULT_TOLERANCE_MS): number {
  // A real-format request passes the window for at most 2 × tolerance; add a minute of slack.
  return format === 'real' ? 2 * toleranceMs + 60_000 : SEED_REPLAY_TTL_MS;
}
