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

/** Largest feed page read (20 MB): a real page of a few hundred people is well under 1 MB. */
const MAX_FEED_PAGE_BYTES = 20 * 1024 * 1024;
/** Deepest JSON nesting accepted; a people record is a few levels deep. */
const MAX_JSON_DEPTH = 64;

/**
 * Where the nesting of a JSON text first goes past `max` levels, found in one pass before
 * `JSON.parse` (and whatever walks its result) can be made to recurse that deep.
 */
export function jsonDepthBeyond(text: string, max: number): { at: number } | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c)
        i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) {
      depth++;
      if (depth > max) return { at: i };
    } else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return undefined;
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
  let tooLarge = false;
  try {
    const request = http(url, {
      method: init.method ?? 'GET',
      ...(init.json !== undefined ? { json: init.json } : {}),
      headers: { accept: 'application/json', ...(init.headers ?? {}) },
      ...(init.signal ? { signal: init.signal } : {}),
      responseType: 'text',
    });
    // A page is read whole to be parsed: past the cap the download stops, whatever the feed sends.
    request.on('downloadProgress', (progress) => {
      if (progress.transferred > MAX_FEED_PAGE_BYTES || (progress.total ?? 0) > MAX_FEED_PAGE_BYTES) {
        tooLarge = true;
        request.cancel();
      }
    });
    const response = await request;
    text = response.body;
    headers = response.headers;
  } catch (err) {
    if (tooLarge) {
      throw new SourceError(
        `${what}: ${safeUrl(url)} sent a page larger than ${MAX_FEED_PAGE_BYTES / (1024 * 1024)} MB; ask the HR system for smaller pages`,
      );
    }
    throw sourceError(err, url, what);
  }
  const depth = jsonDepthBeyond(text, MAX_JSON_DEPTH);
  if (depth) {
    throw new SourceError(
      `${what}: ${safeUrl(url)} sent JSON nested deeper than ${MAX_JSON_DEPTH} levels (at byte ${depth.at})`,
    );
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
