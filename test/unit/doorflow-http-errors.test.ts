import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  errorFromRequestError,
  errorFromResponse,
  normaliseFieldErrors,
  routeOf,
  sanitizeText,
  upstreamCodeOf,
} from '../../src/lib/doorflow/http-errors.ts';
import { secretRegistry } from '../../src/lib/core/logger.ts';

const site = { method: 'GET', route: '/api/3/people/1/credentials/abc' };

describe('DoorFlow error mapping', () => {
  it('normalises 422 field errors: arrays stay arrays, limit_reached string becomes [string]', () => {
    expect(
      normaliseFieldErrors({
        value: ['is taken', 'is too short'],
        limit_reached: 'HID licence limit reached',
        n: 5,
      }),
    ).toEqual({
      value: ['is taken', 'is too short'],
      limit_reached: ['HID licence limit reached'],
      n: ['5'],
    });
    expect(normaliseFieldErrors(undefined)).toEqual({});
    expect(normaliseFieldErrors(['x'])).toEqual({});
  });

  it('maps statuses to codes, retryability and Retry-After', () => {
    const at = (status: number, body: unknown = {}, headers: Record<string, string> = {}) =>
      errorFromResponse(site, { status, headers, body });
    expect(at(422, { error: 'unprocessable_entity', errors: { limit_reached: 'full' } })).toMatchObject({
      code: 'licence_limit',
      status: 422,
      retryable: false,
      upstreamCode: 'unprocessable_entity',
      fieldErrors: { limit_reached: ['full'] },
    });
    expect(at(422, { errors: { value: ['bad'] } }).code).toBe('validation_failed');
    expect(at(404, { error: 'not_found' })).toMatchObject({ code: 'not_found', retryable: false });
    expect(at(403)).toMatchObject({ code: 'forbidden', retryable: false });
    expect(at(400)).toMatchObject({ code: 'bad_request', retryable: false });
    expect(at(401)).toMatchObject({ code: 'unauthorized', retryable: false });
    expect(at(500)).toMatchObject({ code: 'server_error', retryable: true });
    expect(at(503)).toMatchObject({ code: 'server_error', retryable: true });
    expect(at(429, {}, { 'retry-after': '2' })).toMatchObject({
      code: 'rate_limited',
      retryable: true,
      retryAfterMs: 2000,
    });
    expect(at(429, { error: 'rate_limited', retry_in: 3 }).retryAfterMs).toBe(3000);
    expect(at(429, { retry_after: 1.5 }).retryAfterMs).toBe(1500);
    expect(at(418).code).toBe('http_418');
  });

  it('keeps request/response out of enumerable properties and secrets out of messages', () => {
    const err = errorFromResponse(
      { method: 'GET', route: routeOf('/api/3/people/1/credentials/abc?ack_token=ACK-SECRET-1') },
      {
        status: 500,
        headers: { 'set-cookie': 'session=1' },
        body: { error: 'internal_server_error', error_description: 'header was Bearer TOKEN-SECRET-1' },
      },
    );
    expect(Object.keys(err)).not.toContain('request');
    expect(Object.keys(err)).not.toContain('response');
    expect((err.response as { body: unknown }).body).toBeDefined();
    const dumped = `${err.message} ${JSON.stringify(err)} ${inspect(err)}`;
    expect(dumped).not.toContain('ACK-SECRET-1');
    expect(dumped).not.toContain('TOKEN-SECRET-1');
    expect(err.message).toBe(
      'DoorFlow GET /api/3/people/1/credentials/abc failed with 500 (internal_server_error)',
    );
  });

  it('sanitises text: bearer values, query strings, invitation codes, registered secrets', () => {
    secretRegistry.add('registered-secret-42');
    const text = sanitizeText(
      'Authorization: Bearer abc.def https://x.test/a/b?ack_token=zzz code ABCD-EFGH-JKLM-NPQR and registered-secret-42 refresh_token=rrr',
    );
    expect(text).not.toMatch(/abc\.def|zzz|ABCD-EFGH-JKLM-NPQR|registered-secret-42|rrr/);
    expect(text).toContain('https://x.test/a/b?[REDACTED]');
  });

  it('reads the upstream code only when it looks like a code', () => {
    expect(upstreamCodeOf({ error: 'invalid_grant' })).toBe('invalid_grant');
    expect(upstreamCodeOf({ error: 'Bearer abc def' })).toBeUndefined();
    expect(upstreamCodeOf('text')).toBeUndefined();
  });

  it('maps network failures and time-outs as retryable with a sanitised cause', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9 https://h/x?ack_token=ACK-2'), {
      code: 'ECONNREFUSED',
    });
    const net = errorFromRequestError(site, refused);
    expect(net).toMatchObject({ code: 'network_error', retryable: true, status: undefined });
    expect(inspect(net)).not.toContain('ACK-2');
    const timeout = Object.assign(new Error("Timeout awaiting 'response' for 5000ms"), {
      name: 'TimeoutError',
      code: 'ETIMEDOUT',
      event: 'response',
    });
    expect(errorFromRequestError(site, timeout)).toMatchObject({ code: 'timeout', retryable: true });
    expect(errorFromRequestError(site, timeout).message).toContain('response phase');
  });
});
