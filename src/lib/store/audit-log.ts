import type { RedisConnection } from '../core/redis.ts';
import type { Clock } from '../core/clock.ts';
import { INVITATION_CODE_PATTERN } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import type { RedisKeys } from './keys.ts';

/**
 * Append-only audit log of every change made in DoorFlow, kept in the Redis stream `audit`
 * (under the prefix). Entries older than the retention are trimmed on each append (XADD MINID), so
 * the stream's size is bounded by time, not by run size. Secrets never enter it: field names that
 * look secret are dropped and values shaped like invitation codes are blanked.
 *
 * The records of one process go out pipelined: {@link AuditLog.record} buffers its entry and
 * resolves once the buffer that holds it is written (flushed every `batchWindowMs` or at
 * `batchMax` entries, and by {@link AuditLog.flush} on close), so concurrent jobs share one round
 * trip while a caller that awaits its record — every DoorFlow write does, before its step goes
 * on — still knows it is in Redis.
 */

/**
 * What the entry is about: a DoorFlow object that changed, (for an operator's request that workers
 * then carry out) the run or dead letter it started, or `retention`: the janitor removed expired
 * records from Redis, or a quarantined sync `plan` approved or rejected.
 */
export type AuditTargetType =
  | 'person'
  | 'credential'
  | 'run'
  | 'dead_letter'
  | 'retention'
  | 'plan'
  | 'pipeline';

/** One change, as recorded. */
export interface AuditEntry {
  /** Stream id (assigned by Redis); present on read. */
  id?: string;
  /** When the change was made, ms since the epoch. */
  at: number;
  /** Who made it: `worker:<host>:<pid>`, `cli:revoke`, `admin` … */
  actor: string;
  /**
   * The person who asked, for requests made by hand: `alice@ops-1 (cli)` (OS user and host of a
   * CLI command) or `admin session 3f9c… (cookie)` (the `/admin` session, never its secret).
   */
  operator?: string;
  /** The run (import/sync) that made it, when there is one. */
  runId?: string;
  /** Roster key of the person concerned, when known. */
  key?: string;
  /** `person.create`, `person.update`, `credential.create`, `credential.adopt`, `credential.revoke` … */
  action: string;
  targetType: AuditTargetType;
  targetId: string;
  /** The changed fields before the change (absent for creates or when unknown). */
  before?: Record<string, unknown>;
  /** The changed fields after the change (absent for deletes). */
  after?: Record<string, unknown>;
}

/** Options for {@link AuditLog}. */
export interface AuditLogOptions {
  /** Entries older than this are trimmed; `config.admin.auditRetentionMs`. */
  retentionMs: number;
  /** Counts appends by action (`dfp_audit_records_total`). */
  metrics?: Metrics | undefined;
  /** How long a record waits for others to share its round trip, ms (default 2). */
  batchWindowMs?: number;
  /** A buffer this full is written at once (default 100). */
  batchMax?: number;
}

interface Pending {
  stored: AuditEntry;
  action: string;
  resolve(id: string): void;
  reject(err: unknown): void;
}

/** Filter for reading the log back. */
export interface AuditQuery {
  /** Inclusive, ms since the epoch. */
  sinceMs?: number;
  /** Inclusive, ms since the epoch. */
  untilMs?: number;
  runId?: string;
}

/** Field names never written to the audit log, whatever object they appear in. */
const SECRET_FIELD = /(invitation_?code|token|secret|password|api_?key|authorization|image_base64)/i;

/** A copy with secret-looking fields dropped and invitation-code-shaped strings blanked. */
function sanitizeFields(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!fields) return undefined;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (SECRET_FIELD.test(name)) continue;
    out[name] = sanitizeValue(value);
  }
  return out;
}

function sanitizeValue(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(INVITATION_CODE_PATTERN, '[REDACTED]');
  if (Array.isArray(value)) return value.map(sanitizeValue);
  if (value && typeof value === 'object') return sanitizeFields(value as Record<string, unknown>);
  return value;
}

const PAGE = 500;

const DEFAULT_BATCH_WINDOW_MS = 2;
const DEFAULT_BATCH_MAX = 100;

export class AuditLog {
  #buffer: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
    private readonly clock: Clock,
    private readonly options: AuditLogOptions,
  ) {}

  /** Appends one entry; resolves with its stream id once it is written. */
  async record(entry: Omit<AuditEntry, 'id' | 'at'> & { at?: number }): Promise<string> {
    const at = entry.at ?? this.clock.now();
    const stored: AuditEntry = {
      at,
      actor: entry.actor,
      ...(entry.operator ? { operator: entry.operator } : {}),
      action: entry.action,
      targetType: entry.targetType,
      targetId: String(entry.targetId),
      ...(entry.runId ? { runId: entry.runId } : {}),
      ...(entry.key ? { key: entry.key } : {}),
      ...(entry.before ? { before: sanitizeFields(entry.before) } : {}),
      ...(entry.after ? { after: sanitizeFields(entry.after) } : {}),
    };
    return await new Promise<string>((resolve, reject) => {
      this.#buffer.push({ stored, action: entry.action, resolve, reject });
      if (this.#buffer.length >= (this.options.batchMax ?? DEFAULT_BATCH_MAX)) void this.flush();
      else if (!this.#timer) {
        this.#timer = setTimeout(
          () => void this.flush(),
          this.options.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS,
        );
      }
    });
  }

  /** Writes every buffered record now (one pipeline); each record's promise settles with it. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#buffer.splice(0);
    if (batch.length === 0) return;
    // Exact MINID trimming: audit volume is small, and an approximate trim would keep whole
    // old macro-nodes past the retention.
    const minId = String(Math.max(0, this.clock.now() - this.options.retentionMs));
    const key = this.keys.audit;
    const pipe = this.redis.pipeline();
    // The id carries `at` so time queries and trimming follow the injected clock.
    for (const p of batch)
      pipe.xadd(key, 'MINID', '=', minId, `${p.stored.at}-*`, 'e', JSON.stringify(p.stored));
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipe.exec();
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    await Promise.all(
      batch.map(async (p, i) => {
        const [err, id] = results?.[i] ?? [new Error('audit append got no reply'), null];
        try {
          // Should another process have written a later id already (clock skew), Redis picks
          // the next id itself.
          if (err && !/equal or smaller/i.test(err.message)) throw err;
          const written = err
            ? await this.redis.xadd(key, 'MINID', '=', minId, '*', 'e', JSON.stringify(p.stored))
            : id;
          this.options.metrics?.auditRecorded(p.action);
          p.resolve(typeof written === 'string' ? written : '');
        } catch (e) {
          p.reject(e);
        }
      }),
    );
  }

  /**
   * Trims entries older than the retention without appending (the janitor: a quiet fleet appends
   * nothing, so the trim on append alone would keep old entries). Returns how many went.
   */
  async trim(): Promise<number> {
    const minId = Math.max(0, this.clock.now() - this.options.retentionMs);
    return await this.redis.xtrim(this.keys.audit, 'MINID', '=', String(minId));
  }

  /** Entries older than the retention, counted (a dry run of {@link trim}). */
  async countExpired(): Promise<number> {
    const maxId = this.clock.now() - this.options.retentionMs - 1;
    if (maxId < 0) return 0;
    let n = 0;
    let start = '-';
    for (;;) {
      const page = await this.redis.xrange(this.keys.audit, start, String(maxId), 'COUNT', PAGE);
      n += page.length;
      const lastId = page[page.length - 1]?.[0];
      if (page.length < PAGE || !lastId) return n;
      start = `(${lastId}`;
    }
  }

  /** Entries in order, paged from Redis (constant memory for large exports). */
  async *read(query: AuditQuery = {}): AsyncIterable<AuditEntry> {
    let start = query.sinceMs !== undefined ? String(Math.max(0, query.sinceMs)) : '-';
    const end = query.untilMs !== undefined ? String(query.untilMs) : '+';
    for (;;) {
      const page = await this.redis.xrange(this.keys.audit, start, end, 'COUNT', PAGE);
      for (const [id, fields] of page) {
        const raw = fields[fields.indexOf('e') + 1];
        if (raw === undefined) continue;
        const entry = { id, ...(JSON.parse(raw) as AuditEntry) };
        if (query.runId && entry.runId !== query.runId) continue;
        yield entry;
      }
      if (page.length < PAGE) return;
      const lastId = page[page.length - 1]?.[0];
      if (!lastId) return;
      start = `(${lastId}`;
    }
  }
}

/** Export formats for {@link formatAudit}. */
export type AuditFormat = 'json' | 'csv';

const AUDIT_CSV_COLUMNS = [
  'at',
  'actor',
  'run_id',
  'key',
  'action',
  'target_type',
  'target_id',
  'before',
  'after',
  'operator',
] as const;

/** RFC 4180 quoting; also defuses spreadsheet formulas (a cell starting with = + - @). */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Lines of an export: JSON lines (one object per entry) or CSV with a header row. */
export async function* formatAudit(
  entries: AsyncIterable<AuditEntry>,
  format: AuditFormat,
): AsyncIterable<string> {
  if (format === 'csv') yield `${AUDIT_CSV_COLUMNS.join(',')}\n`;
  for await (const e of entries) {
    if (format === 'json') {
      yield `${JSON.stringify({ ...e, at: new Date(e.at).toISOString() })}\n`;
      continue;
    }
    const cells = [
      new Date(e.at).toISOString(),
      e.actor,
      e.runId,
      e.key,
      e.action,
      e.targetType,
      e.targetId,
      e.before ? JSON.stringify(e.before) : undefined,
      e.after ? JSON.stringify(e.after) : undefined,
      e.operator,
    ];
    yield `${cells.map(csvCell).join(',')}\n`;
  }
}
