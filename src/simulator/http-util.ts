import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a route handler gets. `body` is parsed according to the content type. */
export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  rawBody: string;
  /** JSON object, form fields (as an object of strings) or undefined. */
  body: unknown;
  /** Global sequence number of this /api/3 request (0 for others): the key of every fault draw. */
  seq: number;
  /** Route parameters, e.g. `{ personId: '12' }`. */
  params: Record<string, string>;
}

/** What a handler answers; `lose: true` destroys the socket instead of answering. */
export interface SimResponse {
  status: number;
  body?: unknown;
  /** Sent as-is with this content type (e.g. text/plain for DELETE 202). */
  text?: string;
  headers?: Record<string, string>;
  lose?: boolean;
}

/** Too-large bodies are refused; DoorFlow payloads are small (images aside). */
const MAX_BODY_BYTES = 5 * 1024 * 1024;

export class BodyError extends Error {}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new BodyError('request body too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses JSON or form-encoded bodies; a malformed JSON body is a BodyError (→ 400). */
export function parseBody(contentType: string | undefined, raw: string): unknown {
  if (raw.trim() === '') return undefined;
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/x-www-form-urlencoded') {
    return Object.fromEntries(new URLSearchParams(raw));
  }
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    if (type === 'application/json') throw new BodyError('malformed JSON body');
    return Object.fromEntries(new URLSearchParams(raw));
  }
}

export function writeResponse(res: ServerResponse, out: SimResponse): void {
  const headers: Record<string, string> = { ...(out.headers ?? {}) };
  let payload: string;
  if (out.text !== undefined) {
    headers['content-type'] ??= 'text/plain; charset=utf-8';
    payload = out.text;
  } else if (out.body !== undefined) {
    headers['content-type'] ??= 'application/json; charset=utf-8';
    payload = JSON.stringify(out.body);
  } else {
    payload = '';
  }
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(out.status, headers);
  res.end(payload);
}

export function json(status: number, body: unknown, headers?: Record<string, string>): SimResponse {
  return headers ? { status, body, headers } : { status, body };
}

/** DoorFlow's generic error shape (`error` + `error_description`). */
export function apiError(status: number, error: string, description: string): SimResponse {
  return { status, body: { error, error_description: description } };
}

export function notFound(what = 'Resource'): SimResponse {
  return apiError(404, 'not_found', `${what} not found`);
}

/** 422 with DoorFlow's `{error, errors: {field: [msg]}}`. */
export function unprocessable(errors: Record<string, string[] | string>): SimResponse {
  const first = Object.entries(errors)[0];
  const message = first ? `${first[0]} ${Array.isArray(first[1]) ? first[1][0] : first[1]}` : 'invalid';
  return { status: 422, body: { error: `Validation failed: ${message}`, errors } };
}

/** A JSON object body (or an empty one). */
export function objectBody(body: unknown): Record<string, unknown> {
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : {};
}

/** Pagination as DoorFlow does it: 1-based `page`, `per_page` capped, `Total`/`Per-Page` headers. */
export function paginate<T>(
  items: T[],
  query: URLSearchParams,
  defaults: { perPage: number; maxPerPage: number },
): SimResponse {
  const total = items.length;
  if (query.get('skip_pagination') === 'true') {
    return json(200, items, { Total: String(total), 'Per-Page': String(total) });
  }
  const page = Math.max(1, Number.parseInt(query.get('page') ?? '1', 10) || 1);
  const requested = Number.parseInt(query.get('per_page') ?? '', 10);
  const perPage = Math.min(defaults.maxPerPage, requested > 0 ? requested : defaults.perPage);
  const slice = items.slice((page - 1) * perPage, page * perPage);
  return json(200, slice, { Total: String(total), 'Per-Page': String(perPage) });
}
