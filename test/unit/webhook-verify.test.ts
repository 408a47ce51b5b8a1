import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { replayTtlMs, safeEqualHex, verifyDoorflowSignature } from '../../src/lib/doorflow/webhook-verify.ts';

const SECRET = 'whsec-test-secret';
const NOW = Date.UTC(2026, 10, 25, 18, 0, 0);
const body = Buffer.from('[{"action":"UPDATE","resource_id":"abc"}]');
const ts = String(Math.floor(NOW / 1000));
const sign = (t: string, b: Buffer, secret = SECRET) =>
  createHmac('sha256', secret).update(`${t}.`).update(b).digest('hex');

const verify = (
  headers: Record<string, string | string[] | undefined>,
  opts: { raw?: Buffer; seed?: boolean; now?: number } = {},
) =>
  verifyDoorflowSignature({
    headers,
    rawBody: opts.raw ?? body,
    secret: SECRET,
    nowMs: opts.now ?? NOW,
    acceptSeedFormat: opts.seed ?? false,
  });

describe('verifyDoorflowSignature', () => {
  it('accepts the real format and reports it', () => {
    const r = verify({ signature: sign(ts, body), timestamp: ts });
    expect(r).toEqual({ ok: true, format: 'real', signature: sign(ts, body), timestampSec: Number(ts) });
  });
  it('accepts an upper-case hex signature and a sha256= prefix', () => {
    expect(verify({ signature: `sha256=${sign(ts, body).toUpperCase()}`, timestamp: ts }).ok).toBe(true);
  });
  it.each([
    ['wrong secret', { signature: sign(ts, body, 'other'), timestamp: ts }, 'bad_signature'],
    ['tampered timestamp', { signature: sign(ts, body), timestamp: String(Number(ts) + 1) }, 'bad_signature'],
    ['short signature', { signature: sign(ts, body).slice(0, 63), timestamp: ts }, 'bad_signature'],
    ['non-hex signature', { signature: 'z'.repeat(64), timestamp: ts }, 'bad_signature'],
    ['missing signature', { timestamp: ts }, 'missing_signature'],
    ['missing timestamp', { signature: sign(ts, body) }, 'missing_timestamp'],
    ['repeated header', { signature: [sign(ts, body), sign(ts, body)], timestamp: ts }, 'missing_signature'],
    ['non-numeric timestamp', { signature: sign('1e9', body), timestamp: '1e9' }, 'bad_timestamp'],
  ])('rejects %s', (_name, headers, reason) => {
    expect(verify(headers)).toEqual({ ok: false, reason });
  });
  it('rejects a tampered body', () => {
    expect(verify({ signature: sign(ts, body), timestamp: ts }, { raw: Buffer.from(`${body} `) })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });
  it('enforces the ±5 minute window on both sides', () => {
    const h = { signature: sign(ts, body), timestamp: ts };
    expect(verify(h, { now: NOW + 299_000 }).ok).toBe(true);
    expect(verify(h, { now: NOW - 299_000 }).ok).toBe(true);
    expect(verify(h, { now: NOW + 301_000 })).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(verify(h, { now: NOW - 301_000 })).toEqual({ ok: false, reason: 'stale_timestamp' });
  });
  it('accepts the seed format only when enabled', () => {
    const seedSig = createHmac('sha256', SECRET).update(body).digest('hex');
    expect(verify({ signature: seedSig })).toEqual({ ok: false, reason: 'missing_timestamp' });
    expect(verify({ signature: seedSig }, { seed: true })).toMatchObject({ ok: true, format: 'seed' });
    expect(verify({ signature: sign(ts, body) }, { seed: true })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });
  it('keeps real-format signatures long enough to outlive the window', () => {
    expect(replayTtlMs('real')).toBeGreaterThan(10 * 60_000);
  });
  it('safeEqualHex checks length before comparing', () => {
    expect(safeEqualHex('ab'.repeat(32), 'ab'.repeat(32))).toBe(true);
    expect(safeEqualHex('ab'.repeat(32), 'ab'.repeat(31))).toBe(false);
  });
});
