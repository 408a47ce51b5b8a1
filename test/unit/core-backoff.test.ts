import { describe, expect, it } from 'vitest';
import { backoffDelayMs, parseRetryAfterMs, totalBackoffSpanMs } from '../../src/lib/core/backoff.ts';
import { codeForStatus, DoorFlowError, isRetryable, RETRYABLE_STATUSES } from '../../src/lib/core/errors.ts';

describe('backoffDelayMs', () => {
  const options = { baseMs: 1000, maxMs: 60_000, jitter: 0.5 };
  it('doubles per attempt within the jitter band', () => {
    expect(backoffDelayMs(1, options, undefined, () => 0)).toBe(500);
    expect(backoffDelayMs(1, options, undefined, () => 1)).toBe(1000);
    expect(backoffDelayMs(3, options, undefined, () => 1)).toBe(4000);
  });
  it('caps at maxMs', () => {
    expect(backoffDelayMs(30, options, undefined, () => 1)).toBe(60_000);
  });
  it('honours a server-provided delay', () => {
    expect(backoffDelayMs(1, options, 7000)).toBe(7000);
    expect(backoffDelayMs(1, options, 999_999)).toBe(60_000);
  });
  it('default job retry settings span at least an hour', () => {
    expect(totalBackoffSpanMs(12, { baseMs: 2000, maxMs: 1_800_000 })).toBeGreaterThanOrEqual(3_600_000);
  });
});

describe('parseRetryAfterMs', () => {
  it('reads seconds and HTTP dates from Retry-After', () => {
    expect(parseRetryAfterMs('2', undefined)).toBe(2000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', undefined, now)).toBe(5000);
  });
  it('reads retry_in and retry_after from the body', () => {
    expect(parseRetryAfterMs(undefined, { retry_in: 3 })).toBe(3000);
    expect(parseRetryAfterMs(undefined, { retry_after: 1.5 })).toBe(1500);
    expect(parseRetryAfterMs(undefined, { error: 'x' })).toBeUndefined();
  });
});

describe('error classification', () => {
  it('maps statuses to stable codes', () => {
    expect(codeForStatus(422, { limit_reached: ['HID licence limit reached'] })).toBe('licence_limit');
    expect(codeForStatus(422)).toBe('validation_failed');
    expect(codeForStatus(503)).toBe('server_error');
    expect(codeForStatus(404)).toBe('not_found');
  });
  it('treats 429 and 5xx as retryable, 4xx as not', () => {
    for (const status of [429, 500, 502, 503, 504]) expect(RETRYABLE_STATUSES.has(status)).toBe(true);
    for (const status of [400, 401, 403, 404, 422]) expect(RETRYABLE_STATUSES.has(status)).toBe(false);
  });
  it('keeps request and response out of enumeration', () => {
    const error = new DoorFlowError('unauthorized', 'DoorFlow answered 401', {
      status: 401,
      request: { headers: { authorization: 'Bearer secret-token' } },
      response: { body: 'x' },
    });
    expect(JSON.stringify(error)).not.toContain('secret-token');
    expect(Object.keys(error)).not.toContain('request');
    expect(error.request).toBeDefined();
    expect(isRetryable(error)).toBe(false);
  });
});
