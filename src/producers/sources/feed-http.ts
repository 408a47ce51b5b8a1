import { got, type Got, HTTPError, type Method, RequestError } from 'got';
import { ProvisionerError } from '../../lib/core/errors.ts';
import { safeUrl } from './safe-url.ts';

export { safeUrl };

/**
 * HTTP for roster feeds (BambooHR, JSON feeds, CSV by URL). Reads are idempotent, so a failed
 * request is retried briefly here; after that the whole fetch fails — a feed that stops half way
 * must never look like a short roster. Error messages carry the URL without its query string and
 * never a header (API keys live there).
 */

export interface FeedHttpOptions {
  /** Per-request time-out (ms). Default 30,000. */
  timeoutMs?: number;
  /** Retries after a 5xx/429/network error. Default 2. */
  retries?: number;
  headers?: Record<string, string>;
  /** Large downloads (CSV by URL): time out on silence, not on total duration. */
  streaming?: boolean;
}

/** A feed request failed: the sync must stop and change nothing. */
export class SourceError extends ProvisionerError {
  readonly status: number | undefined;
  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super('source_failed', message, { cause: options.cause, retryable: true });
    this.status = options.status;
  }
}

export function createFeedHttp(options: FeedHttpOptions = {}): Got {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return got.extend({
    headers: options.headers ?? {},
    timeout: options.streaming ? { response: timeoutMs, socket: timeoutMs } : { request: timeoutMs },
    retry: {
      limit: options.retries ?? 2,
      methods: ['GET', 'POST'],
      statusCodes: [408, 429, 500, 502, 503, 504, 520, 521, 522, 524],
      backoffLimit: 2_000,
    },
    followRedirect: true,
    throwHttpErrors: true,
  });
}

/** Turns any got failure into a {@link SourceError} with a safe message. */
export function sourceError(err: unknown, url: string, what: string): ProvisionerError {
  if (err instanceof ProvisionerError) return err;
  if (err instanceof HTTPError) {
    return new SourceError(`${what}: ${safeUrl(url)} answered HTTP ${err.response.statusCode}`, {
      status: err.response.statusCode,
      cause: err,
    });
  }
  if (err instanceof RequestError) {
    return new SourceError(`${what}: ${safeUrl(url)} failed (${err.code}: ${err.message.split('\n')[0]})`, {
      cause: err,
    });
  }
  return new SourceError(
    `${what}: ${safeUrl(url)} failed (${err instanceof Error ? err.message : String(err)})`,
    {
      cause: err,
    },
  );
}

/** Fetches and parses a JSON document; a truncated or non-JSON body is a {@link SourceError}. */
export async function fetchJson(
  http: Got,
  url: string,
  init: {
    method?: Method;
    json?: unknown;
    headers?: Record<string, string>;
    signal?: AbortSignal | undefined;
  },
  what: string,
): Promise<{ body: unknown; headers: Record<string, string | string[] | undefined> }> {
  let text: string;
  let headers: Record<string, string | string[] | undefined>;
  try {
    const response = await http(url, {
      method: init.method ?? 'GET',
      ...(init.json !== undefined ? { json: init.json } : {}),
      headers: { accept: 'application/json', ...(init.headers ?? {}) },
      ...(init.signal ? { signal: init.signal } : {}),
      responseType: 'text',
    });
    text = response.body;
    headers = response.headers;
  } catch (err) {
    throw sourceError(err, url, what);
  }
  try {
    return { body: JSON.parse(text), headers };
  } catch (err) {
    throw new SourceError(
      `${what}: ${safeUrl(url)} sent a truncated or invalid JSON body (${text.length} bytes)`,
      { cause: err },
    );
  }
}

/** The `rel="next"` target of an RFC 8288 Link header, resolved against the request URL. */
export function nextFromLinkHeader(link: string | string[] | undefined, base: string): string | undefined {
  const value = Array.isArray(link) ? link.join(',') : link;
  if (!value) return undefined;
  for (const part of value.split(/,(?=\s*<)/)) {
    const match = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (match && /\brel\s*=\s*"?(?:[^";]*\s)?next(?:\s[^";]*)?"?/i.test(match[2] ?? '')) {
      return new URL(match[1] ?? '', base).toString();
    }
  }
  return undefined;
}
