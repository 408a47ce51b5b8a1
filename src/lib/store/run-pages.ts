import type { RedisConnection } from '../core/redis.ts';
import { luaScript } from '../core/lua.ts';
import type { RedisKeys } from './keys.ts';
import { type EntryDetail, INDEX_VERSION } from './runs.ts';

/**
 * Paged reads of a run's entries through the outcome index the run store's TRANSITION script
 * keeps (`run:{id}:index`, score = group number × 2³² + roster position; `run:{id}:outcomes`
 * names the group numbers). A page is one ZRANGEBYSCORE plus one HMGET per hash, whatever the
 * run's size, so a million-entry run reads like a small one. Cursors are roster positions: a page
 * continues after the last position shown, stable while entries move between groups.
 */

/** The outcome index's score span per group (the script's SPAN). */
const SPAN = 2 ** 32;

export interface PagedEntry {
  key: string;
  status: string;
  detail: EntryDetail;
  /** Roster line, or 2³¹ + arrival order when the entry had none. */
  position: number;
}

export interface EntryPage {
  entries: PagedEntry[];
  /** Pass back as `cursor` for the next page; absent on the last one. */
  next?: string;
}

// Indexes entries of a run recorded before the outcome index existed, one HSCAN page per call
// (ARGV: cursor, count): the same groups and positions the TRANSITION script gives, failures counted
// by code. ZADD NX: an entry a move already placed is left where it is. Returns the next cursor.
const BACKFILL = luaScript(`
local SPAN = 4294967296
local function group(s)
  if s == 'provisioned' or s == 'already_provisioned' then return s end
  if s == 'invalid' or string.sub(s, 1, 5) == 'dead:' then return 'failed' end
  if s == 'person' or s == 'credential' or s == 'invitation' or string.sub(s, 1, 9) == 'delivery-' then return 'pending' end
  return s
end
local page = redis.call('HSCAN', KEYS[2], ARGV[1], 'COUNT', ARGV[2])
local fields = page[2]
for i = 1, #fields, 2 do
  local key, status = fields[i], fields[i + 1]
  local g = group(status)
  local n = redis.call('HGET', KEYS[4], g)
  if not n then
    n = redis.call('HINCRBY', KEYS[4], '#', 1)
    redis.call('HSET', KEYS[4], g, n)
  end
  local raw = redis.call('HGET', KEYS[3], key)
  local ok, d = pcall(cjson.decode, raw or '{}')
  if not ok or type(d) ~= 'table' then d = {} end
  local pos = tonumber(d.line)
  if not pos or pos < 1 or pos >= 2147483648 then pos = 2147483648 + redis.call('HINCRBY', KEYS[1], 'seq', 1) end
  local added = redis.call('ZADD', KEYS[5], 'NX', string.format('%.0f', tonumber(n) * SPAN + pos), key)
  if added == 1 and g == 'failed' then
    local code = type(d.code) == 'string' and d.code or (status == 'invalid' and 'invalid_payload' or 'unknown')
    redis.call('HINCRBY', KEYS[1], 'fail:' .. code, 1)
  end
end
if page[1] == '0' then redis.call('HSET', KEYS[1], 'index', ARGV[3]) end
return page[1]
`);

/**
 * An entry registered in bulk keeps no detail until its first move (store/runs.ts `addEntries`):
 * its roster line is its position, when it had one (positions from 2³¹ are arrival order).
 */
function waitingDetail(position: number): EntryDetail {
  return position >= 1 && position < 2 ** 31 ? { line: position } : {};
}

/** A cursor is a position the caller got from us: digits only. */
export function parseCursor(value: unknown): number | undefined {
  return typeof value === 'string' && /^\d{1,12}$/.test(value) ? Number(value) : undefined;
}

export class RunPages {
  /** Runs known to be fully indexed (a run never loses its index once it has one). */
  readonly #indexed = new Set<string>();

  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
  ) {}

  /**
   * A run recorded before the outcome index existed is indexed on its first read, a page of the
   * status hash per script call (a million entries: a thousand short calls, Redis never held).
   * Readers that show the run's failure counters call this before reading the run.
   */
  async ready(runId: string): Promise<void> {
    if (this.#indexed.has(runId)) return;
    const [version, exists] = await Promise.all([
      this.redis.hget(this.keys.run(runId), 'index'),
      this.redis.exists(this.keys.run(runId)),
    ]);
    if (version !== INDEX_VERSION && exists === 1) {
      const keys = this.keys.runScriptKeys(runId);
      let cursor = '0';
      do cursor = String(await BACKFILL.run(this.redis, keys, [cursor, 1000, INDEX_VERSION]));
      while (cursor !== '0');
    }
    if (exists === 1) this.#indexed.add(runId);
  }

  /** The groups the run's index holds, with their numbers. */
  async groups(runId: string): Promise<Map<string, number>> {
    await this.ready(runId);
    const raw = await this.redis.hgetall(this.keys.runOutcomeGroups(runId));
    const out = new Map<string, number>();
    for (const [group, n] of Object.entries(raw)) if (group !== '#') out.set(group, Number(n));
    return out;
  }

  /** Up to `limit` entries of one outcome group after `cursor`, in roster order. */
  async page(runId: string, group: string, options: { cursor?: number; limit: number }): Promise<EntryPage> {
    const n = (await this.groups(runId)).get(group);
    if (n === undefined) return { entries: [] };
    const entries = await this.#range(runId, n, options.cursor, options.limit);
    const last = entries.at(-1);
    return entries.length === options.limit && last ? { entries, next: String(last.position) } : { entries };
  }

  /**
   * Every entry in roster order, `batch` at a time: one cursor per group, merged by position.
   * Memory stays at one batch per group whatever the run's size.
   */
  async *scan(runId: string, batch = 1000): AsyncGenerator<PagedEntry[]> {
    const readers = [...(await this.groups(runId)).values()].map((n) => ({
      n,
      buffer: [] as PagedEntry[],
      cursor: undefined as number | undefined,
      done: false,
    }));
    const fill = async (r: (typeof readers)[number]) => {
      if (r.buffer.length > 0 || r.done) return;
      r.buffer = await this.#range(runId, r.n, r.cursor, batch);
      r.done = r.buffer.length < batch;
      const last = r.buffer.at(-1);
      if (last) r.cursor = last.position;
    };
    let out: PagedEntry[] = [];
    for (;;) {
      await Promise.all(readers.map(fill));
      let best: (typeof readers)[number] | undefined;
      for (const r of readers) {
        const head = r.buffer[0];
        if (head && (!best || head.position < (best.buffer[0]?.position ?? Infinity))) best = r;
      }
      const next = best?.buffer.shift();
      if (!next) break;
      out.push(next);
      if (out.length >= batch) {
        yield out;
        out = [];
      }
    }
    if (out.length > 0) yield out;
  }

  /** People's names for these keys (null where none was recorded). */
  async names(runId: string, keys: readonly string[]): Promise<(string | null)[]> {
    return keys.length === 0 ? [] : await this.redis.hmget(this.keys.runNames(runId), ...keys);
  }

  /** The per-minute series (`{minute}|{outcome}` → entries), for the live view. */
  async series(runId: string): Promise<Record<string, string>> {
    return await this.redis.hgetall(this.keys.runSeries(runId));
  }

  async #range(
    runId: string,
    group: number,
    after: number | undefined,
    limit: number,
  ): Promise<PagedEntry[]> {
    const min = after === undefined ? String(group * SPAN) : `(${group * SPAN + after}`;
    const raw = await this.redis.zrangebyscore(
      this.keys.runOutcomeIndex(runId),
      min,
      `(${(group + 1) * SPAN}`,
      'WITHSCORES',
      'LIMIT',
      0,
      limit,
    );
    const keys: string[] = [];
    const positions: number[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      keys.push(raw[i] ?? '');
      positions.push(Number(raw[i + 1]) - group * SPAN);
    }
    if (keys.length === 0) return [];
    const [statuses, details] = await Promise.all([
      this.redis.hmget(this.keys.runStatus(runId), ...keys),
      this.redis.hmget(this.keys.runEntries(runId), ...keys),
    ]);
    return keys.map((key, i) => {
      const detail = details[i];
      const position = positions[i] ?? 0;
      return {
        key,
        status: statuses[i] ?? '',
        detail: detail ? (JSON.parse(detail) as EntryDetail) : waitingDetail(position),
        position,
      };
    });
  }
}
