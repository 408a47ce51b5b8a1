import { parseRetryAfterMs } from '../core/backoff.ts';
import {
  codeForStatus,
  DoorFlowError,
  type FieldErrors,
  RETRYABLE_NETWORK_CODES,
  RETRYABLE_STATUSES,
} from '../core/errors.ts';
import { scrubSecrets, secretRegistry } from '../core/logger.ts';

/**
 * Maps every way a DoorFlow call can fail onto one {@link DoorFlowError}. Messages carry method,
 * path (never the query string: webhook resource URLs carry an `ack_token`), status and upstream
 * code — never a body, header, token or invitation code. Details a caller may need live in the
 * non-enumerable `request`/`response`.
 */

/** Where a failed call went: method and path without query. */
export interface CallSite {
  method: string;
  route: string;
}

const UPSTREAM_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

/** Removes secrets from any text that may end up in a message, a field error or a log line. */
export function sanitizeText(text: string): string {
  const stripped = text
    .replace(/\b(Bearer|Basic)\s+[^\s"',;]+/gi, '$1 [REDACTED]')
    .replace(/(https?:\/\/[^\s?#"'<>]+)\?[^\s"'<>]*/gi, '$1?[REDACTED]')
    .replace(
      /\b(ack_token|access_token|refresh_token|client_secret|token|code)=[^&\s"']+/gi,
      '$1=[REDACTED]',
    );
  return scrubSecrets(stripped, secretRegistry.values());
}

/** The path part of a URL or route, without query or fragment. */
export function routeOf(pathOrUrl: string): string {
  const cut = pathOrUrl.search(/[?#]/);
  return cut === -1 ? pathOrUrl : pathOrUrl.slice(0, cut);
}

/**
 * 422 bodies: `{"errors":{"value":["…"],"limit_reached":"…"}}`. Arrays stay arrays (as strings),
 * a single string (`limit_reached`) becomes a one-element array.
 */
export function normaliseFieldErrors(errors: unknown): FieldErrors {
  const out: FieldErrors = {};
  if (!errors || typeof errors !== 'object' || Array.isArray(errors)) return out;
  for (const [field, value] of Object.entries(errors as Record<string, unknown>)) {
    const list = Array.isArray(value) ? value : [value];
    const messages = list
      .filter((m) => m !== null && m !== undefined)
      .map((m) => sanitizeText(typeof m === 'string' ? m : JSON.stringify(m)));
    out[field] = messages;
  }
  return out;
}

/** DoorFlow's `error` string (`not_found`, `invalid_grant`, …), when it looks like a code. */
export function upstreamCodeOf(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const code = (body as Record<string, unknown>).error;
  return typeof code === 'string' && UPSTREAM_CODE.test(code) ? code : undefined;
}

export interface FailedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON when the body was JSON, else the raw text. */
  body: unknown;
}

/** An HTTP response with an error status → DoorFlowError. */
export function errorFromResponse(
  site: CallSite,
  response: FailedResponse,
  nowMs = Date.now(),
): DoorFlowError {
  const { status, body } = response;
  const upstreamCode = upstreamCodeOf(body);
  const fieldErrors =
    body && typeof body === 'object' ? normaliseFieldErrors((body as Record<string, unknown>).errors) : {};
  const code = codeForStatus(status, fieldErrors);
  const fields = Object.keys(fieldErrors);
  const message =
    `DoorFlow ${site.method} ${site.route} failed with ${status}` +
    (upstreamCode ? ` (${upstreamCode})` : '') +
    (fields.length > 0 ? `; field errors on: ${fields.join(', ')}` : '');
  return new DoorFlowError(code, message, {
    status,
    upstreamCode,
    fieldErrors,
    method: site.method,
    route: site.route,
    retryable: RETRYABLE_STATUSES.has(status),
    retryAfterMs: parseRetryAfterMs(response.headers['retry-after'], body, nowMs),
    request: { method: site.method, route: site.route },
    response: { statusCode: status, headers: response.headers, body },
  });
}

/** A copy of a thrown error that is safe to keep as `cause` (pino prints cause messages). */
export function sanitizedCause(err: unknown): Error {
  const source = err instanceof Error ? err : new Error(String(err));
  const copy = new Error(sanitizeText(source.message));
  copy.name = source.name;
  copy.stack = sanitizeText(source.stack ?? copy.stack ?? '');
  const code = (source as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(copy, { code });
  return copy;
}

/** The job's AbortSignal fired: the work was not done, so a later attempt may do it. */
export function abortedError(signal: AbortSignal | undefined, cause?: unknown): DoorFlowError {
  const reason = cause ?? signal?.reason;
  return new DoorFlowError('aborted', 'DoorFlow call aborted', {
    retryable: true,
    ...(reason === undefined ? {} : { cause: sanitizedCause(reason) }),
  });
}

/**
 * Waits for `shared` (work other callers may wait for too) until `signal` aborts, then rejects
 * with {@link abortedError}; the work itself goes on. Checking an already aborted signal is the
 * caller's part.
 */
export async function raceAbort<T>(shared: Promise<T>, signal: AbortSignal): Promise<T> {
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortedError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  shared.catch(() => {});
  try {
    return await Promise.race([shared, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/** A network failure, time-out or protocol error (no usable HTTP response) → DoorFlowError. */
export function errorFromRequestError(site: CallSite, err: unknown): DoorFlowError {
  if (err instanceof DoorFlowError) return err;
  const netCode = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : '';
  const event = (err as { event?: unknown })?.event;
  const timedOut = netCode === 'ETIMEDOUT' || (err as { name?: unknown })?.name === 'TimeoutError';
  const code = timedOut ? 'timeout' : 'network_error';
  const detail = timedOut
    ? `timed out${typeof event === 'string' ? ` (${event} phase)` : ''}`
    : `network error ${netCode || (err instanceof Error ? err.name : 'unknown')}`;
  return new DoorFlowError(code, `DoorFlow ${site.method} ${site.route} failed: ${detail}`, {
    method: site.method,
    route: site.route,
    retryable: timedOut || RETRYABLE_NETWORK_CODES.has(netCode) || netCode === '',
    cause: sanitizedCause(err),
    request: { method: site.method, route: site.route },
  });
}

/** A 2xx whose body is not what the contract promises. */
export function invalidResponseError(
  site: CallSite,
  status: number,
  what: string,
  body: unknown,
): DoorFlowError {
  return new DoorFlowError(
    'invalid_response',
    `DoorFlow ${site.method} ${site.route} returned ${status}: ${what}`,
    {
      status,
      method: site.method,
      route: site.route,
      retryable: true,
      request: { method: site.method, route: site.route },
      response: { statusCode: status, body },
    },
  );
}
