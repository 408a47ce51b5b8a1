import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { PayloadError } from '../../lib/core/errors.ts';
import type {
  FetchRosterOptions,
  RosterAdapter,
  SourceItem,
  SourceMetadata,
  SourceStats,
} from './adapter.ts';
import {
  createFeedHttp,
  fetchJson,
  type FeedHttpOptions,
  nextFromLinkHeader,
  safeUrl,
  SourceError,
} from './feed-http.ts';
import { ROSTER_FIELDS, type RosterField } from './headers.ts';
import { fetchRules, isRejection, type RawRecord, validateRecord } from '../validate-row.ts';

/**
 * A generic HTTP JSON roster feed (Workday RaaS-style reports, in-house HR exports): a URL, an
 * optional auth header, pagination by next link (a body field or the `Link` header) or by a page
 * parameter, and a mapping file from roster fields to dotted paths in each record:
 *
 * ```json
 * { "system_id": "employee.id", "first_name": "name.first", "last_name": "name.last",
 *   "email": "contact.email", "status": "employment.status",
 *   "records": "data.people", "next": "links.next",
 *   "page": { "param": "page", "start": 1, "sizeParam": "per_page", "size": 100 },
 *   "inactive_values": ["terminated", "on notice"] }
 * ```
 */

const pageSchema = z.object({
  param: z.string().min(1),
  start: z.number().int().min(0).default(1),
  sizeParam: z.string().min(1).optional(),
  size: z.number().int().positive().optional(),
});

const mappingSchema = z
  .object({
    /** Dotted path to the records array in each page; default: the body itself, or its first array. */
    records: z.string().optional(),
    /** Dotted path to the next page's URL in the body. The `Link: rel="next"` header is always honoured. */
    next: z.string().optional(),
    page: pageSchema.optional(),
    /** Extra status values meaning "has left" (case-insensitive), besides inactive/terminated/…. */
    inactive_values: z.array(z.string()).default([]),
    /** Dotted path to a boolean "is active" flag. */
    active: z.string().optional(),
    /** Safety cap on pages (a feed that never ends). Default 10,000. */
    max_pages: z.number().int().positive().default(10_000),
  })
  .catchall(z.unknown());

export type FeedMapping = z.infer<typeof mappingSchema> & { fields: Partial<Record<RosterField, string>> };

/** Parses a mapping document; unknown keys that are not roster fields are an error (typos). */
export function parseFeedMapping(json: unknown): FeedMapping {
  const parsed = mappingSchema.safeParse(json);
  if (!parsed.success) {
    throw new PayloadError(
      `invalid mapping file: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const known = new Set(['records', 'next', 'page', 'inactive_values', 'active', 'max_pages']);
  const fields: Partial<Record<RosterField, string>> = {};
  for (const [key, value] of Object.entries(parsed.data)) {
    if (known.has(key)) continue;
    if (!(ROSTER_FIELDS as readonly string[]).includes(key) || typeof value !== 'string') {
      throw new PayloadError(
        `invalid mapping file: "${key}" is not a roster field (${ROSTER_FIELDS.join(', ')}) mapped to a dotted path`,
      );
    }
    fields[key as RosterField] = value;
  }
  if (!fields.first_name || !fields.last_name || !(fields.system_id || fields.email)) {
    throw new PayloadError(
      'invalid mapping file: first_name, last_name and system_id (or email) must be mapped',
    );
  }
  return { ...parsed.data, fields };
}

export async function loadFeedMapping(path: string): Promise<FeedMapping> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PayloadError(`cannot read mapping file ${path}: ${(err as Error).message}`);
  }
  try {
    return parseFeedMapping(JSON.parse(text));
  } catch (err) {
    if (err instanceof PayloadError) throw err;
    throw new PayloadError(`mapping file ${path} is not valid JSON`);
  }
}

/** `a.b.0.c` into nested objects and arrays; undefined when any step is missing. */
function getPath(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.split('.')) {
    if (current === null || current === undefined || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function asText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map((v) => asText(v) ?? '').join(';');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function recordsOf(body: unknown, path: string | undefined): unknown[] {
  const found = path ? getPath(body, path) : body;
  if (Array.isArray(found)) return found;
  if (!path && found && typeof found === 'object') {
    for (const value of Object.values(found)) if (Array.isArray(value)) return value;
  }
  throw new SourceError(`the feed page has no records array${path ? ` at "${path}"` : ''}`);
}

export interface JsonFeedOptions extends FeedHttpOptions {
  url: string;
  mapping: FeedMapping;
  /** Today as YYYY-MM-DD (termination dates); default from the system clock. */
  today?: string;
}

/**
 * A next link is followed only on the feed's own origin: the feed's `--header` credentials go with
 * every page request, so a page pointing elsewhere would hand them to another host. Stopping there
 * instead would pass a partial roster off as complete (and deactivate everyone missing), so the
 * fetch fails, naming the origin only (never the query string).
 */
function sameOriginNext(feedUrl: string, next: string): string {
  const origin = new URL(next).origin;
  if (origin === new URL(feedUrl).origin) return next;
  throw new SourceError(
    `the feed's next link points at another origin (${origin}); refusing to send the feed's credentials there`,
  );
}

export class JsonFeedAdapter implements RosterAdapter {
  readonly name = 'json';
  private readonly counters: SourceStats = { read: 0, valid: 0, invalid: 0, blank: 0 };
  private pages = 0;

  constructor(private readonly options: JsonFeedOptions) {}

  metadata(): SourceMetadata {
    return { source: 'json', description: safeUrl(this.options.url), ignoredFields: [], complete: true };
  }

  stats(): SourceStats & { pages: number } {
    return { ...this.counters, pages: this.pages };
  }

  async *fetchRoster(options: FetchRosterOptions, signal?: AbortSignal): AsyncGenerator<SourceItem> {
    const { mapping } = this.options;
    const http = createFeedHttp(this.options);
    const inactive = new Set(mapping.inactive_values.map((v) => v.toLowerCase()));
    const today = this.options.today ?? new Date().toISOString().slice(0, 10);
    const rules = fetchRules(options, today);
    let url: string | undefined = this.pageUrl(mapping.page?.start);
    let page = mapping.page?.start ?? 1;
    while (url) {
      if (this.pages >= mapping.max_pages)
        throw new SourceError(`the feed did not end after ${mapping.max_pages} pages`);
      signal?.throwIfAborted();
      const { body, headers } = await fetchJson(http, url, { signal }, `JSON feed page ${this.pages + 1}`);
      this.pages += 1;
      const records = recordsOf(body, mapping.records);
      for (const record of records) {
        this.counters.read += 1;
        const n = this.counters.read;
        const raw: RawRecord = {};
        for (const [field, path] of Object.entries(mapping.fields) as [RosterField, string][]) {
          raw[field] = asText(getPath(record, path));
        }
        if (raw.status && inactive.has(raw.status.trim().toLowerCase())) raw.status = 'inactive';
        if (mapping.active !== undefined) {
          const flag = getPath(record, mapping.active);
          if (flag === false || flag === 'false' || flag === 0) raw.status = 'inactive';
          else if (raw.status === undefined) raw.status = 'active';
        }
        const result = validateRecord(raw, n, rules);
        if (isRejection(result)) {
          this.counters.invalid += 1;
          const rec =
            record && typeof record === 'object' ? (record as Record<string, unknown>) : { value: record };
          yield {
            kind: 'problem',
            line: n,
            reason: result.reason,
            record: rec,
            ...(result.key ? { key: result.key } : {}),
          };
        } else {
          this.counters.valid += 1;
          yield result;
        }
      }
      const bodyNext = mapping.next ? asText(getPath(body, mapping.next)) : undefined;
      const next: string | undefined =
        (bodyNext ? new URL(bodyNext, url).toString() : undefined) ?? nextFromLinkHeader(headers.link, url);
      if (next) url = sameOriginNext(this.options.url, next);
      else if (
        mapping.page &&
        records.length > 0 &&
        (!mapping.page.size || records.length >= mapping.page.size)
      ) {
        page += 1;
        url = this.pageUrl(page);
      } else url = undefined;
    }
  }

  private pageUrl(page: number | undefined): string {
    const { mapping } = this.options;
    if (!mapping.page || page === undefined) return this.options.url;
    const u = new URL(this.options.url);
    u.searchParams.set(mapping.page.param, String(page));
    if (mapping.page.sizeParam && mapping.page.size)
      u.searchParams.set(mapping.page.sizeParam, String(mapping.page.size));
    return u.toString();
  }
}
