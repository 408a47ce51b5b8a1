import { randomBytes } from 'node:crypto';
import type { RedisConnection } from '../core/redis.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import { luaScript } from '../core/lua.ts';
import type { DeliveryChannelName } from '../delivery/channel-names.ts';
import type { RedisKeys } from './keys.ts';

/**
 * Run records. A run is one import or sync. Keys (under the queue prefix):
 * - `run:{id}` hash: metadata + counters (`total`, `count:<status>`, `done:<step>`, `retries:<step>`, `dead`)
 * - `run:{id}:status` hash: roster key → status (a step name, a terminal outcome or `dead:<step>`)
 * - `run:{id}:entries` hash: roster key → JSON detail (person/credential ids, error code, …)
 * - `runs` sorted set: run id by start time.
 * Every status change goes through one Lua script, so counters stay exact even when a crashed job
 * runs twice: moves only go forward, a stale failure cannot undo later progress.
 */

/** Where an entry currently is. */
export type EntryStatus =
  | 'person'
  | 'credential'
  | 'invitation'
  | `delivery-${string}`
  | 'provisioned'
  | 'already_provisioned'
  | 'invalid'
  | 'cancelled'
  | `dead:${string}`;

/** Detail stored per entry; never holds an invitation code. */
export interface EntryDetail {
  personId?: number;
  credentialId?: string;
  code?: string;
  message?: string;
  line?: number;
  step?: string;
  channel?: string;
  at?: number;
}

export interface RunRecord {
  id: string;
  createdAt: number;
  source: string;
  delivery: DeliveryChannelName;
  intake: 'open' | 'closed';
  finishedAt: number | undefined;
  /** Set by `runs cancel` (store/run-cancel.ts): the run ends `cancelled` once in-flight steps are done. */
  cancelledAt: number | undefined;
  total: number;
  /** Entries per current status. */
  counts: Record<string, number>;
  /** Entries that completed each step. */
  done: Record<string, number>;
  /** Failed attempts (later retried) per step. */
  retries: Record<string, number>;
  dead: number;
  /** Entries failed (dead or invalid) now, per error code. */
  failures: Record<string, number>;
}

const TRANSITION = luaScript(`
local function rank(s)
  if s == 'person' then return 1 end
  if s == 'credential' then return 2 end
  if s == 'invitation' then return 3 end
  if string.sub(s, 1, 9) == 'delivery-' then return 4 end
  if string.sub(s, 1, 5) == 'dead:' then return rank(string.sub(s, 6)) end
  return 5
end
local function terminal(s) return s == 'provisioned' or s == 'already_provisioned' or s == 'invalid' or s == 'cancelled' end
local function isdead(s) return string.sub(s, 1, 5) == 'dead:' end
-- Mirrors outcomeGroup() in TypeScript; any other status (a later outcome) is its own group.
local function group(s)
  if s == 'provisioned' or s == 'already_provisioned' then return s end
  if s == 'invalid' or isdead(s) then return 'failed' end
  if rank(s) < 5 then return 'pending' end
  return s
end
-- The outcome index (KEYS[4] group numbers, KEYS[5] sorted set): score = group * SPAN + position,
-- so one group is one score range, ordered by roster line (or arrival) and paged by score.
local SPAN = 4294967296
local function gnum(g)
  local n = redis.call('HGET', KEYS[4], g)
  if not n then
    n = redis.call('HINCRBY', KEYS[4], '#', 1)
    redis.call('HSET', KEYS[4], g, n)
  end
  return tonumber(n)
end
local function place(k, g, pos)
  redis.call('ZADD', KEYS[5], string.format('%.0f', gnum(g) * SPAN + pos), k)
end
local function arrival() return 2147483648 + redis.call('HINCRBY', KEYS[1], 'seq', 1) end
local function failcode(s, code)
  if code ~= '' then return code end
  if s == 'invalid' then return 'invalid_payload' end
  return 'unknown'
end
local function storedcode(k)
  local raw = redis.call('HGET', KEYS[3], k)
  if raw then
    local ok, d = pcall(cjson.decode, raw)
    if ok and type(d) == 'table' and type(d.code) == 'string' then return d.code end
  end
  return ''
end
-- Failures by code: a counter in the run hash and a per-minute series for the live view.
local function countfail(code, by, now)
  redis.call('HINCRBY', KEYS[1], 'fail:' .. code, by)
  if by > 0 then redis.call('HINCRBY', KEYS[6], math.floor(now / 60000) .. '|fail|' .. code, 1) end
end
local key, new, detail, now, mode, line, code = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), ARGV[7]
local old = redis.call('HGET', KEYS[2], key)
if mode == 'add' then
  if old then return 0 end
  redis.call('HINCRBY', KEYS[1], 'total', 1)
  local pos = line
  if not pos or pos < 1 or pos >= 2147483648 then pos = arrival() end
  place(key, group(new), pos)
  if group(new) == 'failed' then countfail(failcode(new, code), 1, now) end
elseif not old then
  return -1
elseif old == new then
  if detail ~= '' then
    if group(new) == 'failed' then
      local was = failcode(old, storedcode(key))
      local now_code = failcode(new, code)
      if was ~= now_code then countfail(was, -1, now) countfail(now_code, 1, now) end
    end
    redis.call('HSET', KEYS[3], key, detail)
  end
  return 0
else
  local ok = false
  if terminal(new) then ok = not terminal(old)
  elseif isdead(new) then ok = (not terminal(old)) and (not isdead(old)) and rank(old) <= rank(new)
  elseif mode == 'reopen' then ok = isdead(old)
  else ok = (not terminal(old)) and (not isdead(old)) and rank(old) < rank(new) end
  if not ok then return 0 end
  redis.call('HINCRBY', KEYS[1], 'count:' .. old, -1)
  if isdead(old) then redis.call('HINCRBY', KEYS[1], 'dead', -1)
  elseif not terminal(old) and not isdead(new) then redis.call('HINCRBY', KEYS[1], 'done:' .. old, 1) end
  local gold, gnew = group(old), group(new)
  if gold ~= gnew then
    local score = tonumber(redis.call('ZSCORE', KEYS[5], key))
    -- An entry recorded before the index existed joins it at its first move.
    place(key, gnew, score and (score % SPAN) or arrival())
  end
  if gold == 'failed' then countfail(failcode(old, storedcode(key)), -1, now) end
  if gnew == 'failed' then countfail(failcode(new, code), 1, now) end
  if gnew ~= 'pending' and gnew ~= 'failed' then
    redis.call('HINCRBY', KEYS[6], math.floor(now / 60000) .. '|' .. gnew, 1)
  end
end
redis.call('HSET', KEYS[2], key, new)
if detail ~= '' then redis.call('HSET', KEYS[3], key, detail) end
redis.call('HINCRBY', KEYS[1], 'count:' .. new, 1)
if isdead(new) then redis.call('HINCRBY', KEYS[1], 'dead', 1) end
-- Finish detection in the same script: a settled entry may finish the run, a reopened one unfinishes it.
if mode ~= 'add' and (terminal(new) or isdead(new) or mode == 'reopen') then
  local h = redis.call('HMGET', KEYS[1], 'intake', 'total', 'count:provisioned', 'count:already_provisioned', 'count:invalid', 'dead', 'count:cancelled')
  local settled = (tonumber(h[3]) or 0) + (tonumber(h[4]) or 0) + (tonumber(h[5]) or 0) + (tonumber(h[6]) or 0) + (tonumber(h[7]) or 0)
  if h[1] == 'closed' and (tonumber(h[2]) or 0) == settled then redis.call('HSETNX', KEYS[1], 'finishedAt', now)
  else redis.call('HDEL', KEYS[1], 'finishedAt') end
end
return 1
`);

const CHECK_FINISHED = luaScript(`
if ARGV[2] == 'close' then redis.call('HSET', KEYS[1], 'intake', 'closed') end
local h = redis.call('HMGET', KEYS[1], 'intake', 'total', 'count:provisioned', 'count:already_provisioned', 'count:invalid', 'dead', 'count:cancelled')
local finished = h[1] == 'closed' and (tonumber(h[2]) or 0) == (tonumber(h[3]) or 0) + (tonumber(h[4]) or 0) + (tonumber(h[5]) or 0) + (tonumber(h[6]) or 0) + (tonumber(h[7]) or 0)
if finished then redis.call('HSETNX', KEYS[1], 'finishedAt', ARGV[1]) return 1 end
redis.call('HDEL', KEYS[1], 'finishedAt')
return 0
`);

/**
 * Registers a slice of new entries at one waiting step in one call (KEYS: the run script keys,
 * then the names hash; ARGV: status, then key, roster line or '', display name or '' per entry).
 * The same record the TRANSITION script's `add` makes, but no detail: a waiting entry's only
 * detail was its line, which its outcome-index position already holds (store/run-pages.ts reads
 * it back from there). Returns one '1' (added) or '0' (already in the run) per entry, and the
 * run's outstanding entries after the slice, so intake need not ask again before adding jobs.
 */
const ADD_ENTRIES = luaScript(`
local SPAN = 4294967296
local status = ARGV[1]
local n = redis.call('HGET', KEYS[4], 'pending')
if not n then
  n = redis.call('HINCRBY', KEYS[4], '#', 1)
  redis.call('HSET', KEYS[4], 'pending', n)
end
local base = tonumber(n) * SPAN
local flags, zargs, nargs = {}, {}, {}
local added = 0
for i = 2, #ARGV, 3 do
  local key, pos, name = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  if redis.call('HSETNX', KEYS[2], key, status) == 1 then
    added = added + 1
    flags[#flags + 1] = '1'
    if not pos or pos < 1 or pos >= 2147483648 then pos = 2147483648 + redis.call('HINCRBY', KEYS[1], 'seq', 1) end
    zargs[#zargs + 1] = string.format('%.0f', base + pos)
    zargs[#zargs + 1] = key
    if name ~= '' then
      nargs[#nargs + 1] = key
      nargs[#nargs + 1] = name
    end
  else
    flags[#flags + 1] = '0'
  end
end
-- unpack() is bounded by Lua's C stack: a few thousand arguments per call.
local function many(cmd, key, args)
  for i = 1, #args, 2000 do redis.call(cmd, key, unpack(args, i, math.min(i + 1999, #args))) end
end
if added > 0 then
  redis.call('HINCRBY', KEYS[1], 'total', added)
  redis.call('HINCRBY', KEYS[1], 'count:' .. status, added)
  many('ZADD', KEYS[5], zargs)
  many('HSET', KEYS[7], nargs)
end
local h = redis.call('HMGET', KEYS[1], 'total', 'count:provisioned', 'count:already_provisioned', 'count:invalid', 'count:cancelled', 'dead')
local outstanding = tonumber(h[1]) or 0
for i = 2, 6 do outstanding = outstanding - (tonumber(h[i]) or 0) end
return {table.concat(flags), outstanding}
`);

/** Steps an entry can wait at: what {@link RunStore.addEntries} registers. */
export type WaitingStatus = 'person' | 'credential' | 'invitation' | `delivery-${string}`;

/** A new entry for {@link RunStore.addEntries}. */
export interface NewEntry {
  key: string;
  /** Roster line: the entry's place in the run's views (else its arrival order). */
  line?: number | undefined;
  /** Display name for `runs report` (none recorded when empty). */
  name?: string | undefined;
}

/** The run hash's `index` field once the outcome index holds every entry (store/run-pages.ts). */
export const INDEX_VERSION = '1';

/** A sortable, colon-free run id: `r` + UTC timestamp + random suffix. */
export function newRunId(now = Date.now()): string {
  const stamp = new Date(now).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `r${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Run records over one Redis connection; `clock` stamps creation, moves and finishes. */
export class RunStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
    private readonly clock: Clock = systemClock,
  ) {}

  async create(options: { source: string; delivery: DeliveryChannelName; id?: string }): Promise<string> {
    const createdAt = this.clock.now();
    const id = options.id ?? newRunId(createdAt);
    await this.redis
      .multi()
      .hset(this.keys.run(id), {
        id,
        createdAt,
        source: options.source,
        delivery: options.delivery,
        intake: 'open',
        total: 0,
        dead: 0,
        // Its entries go into the outcome index from the first (older runs are indexed on first read).
        index: INDEX_VERSION,
      })
      .zadd(this.keys.runs, createdAt, id)
      .exec();
    return id;
  }

  /** Registers an entry at `status`; false when the key is already in the run (a duplicate). */
  async addEntry(
    runId: string,
    key: string,
    status: EntryStatus,
    detail: EntryDetail = {},
  ): Promise<boolean> {
    return (await this.#transition(runId, key, status, detail, 'add')) === 1;
  }

  /**
   * Registers new entries waiting at `status`, with their names, in one script call per slice:
   * `added[i]` is false where the key is already in the run (a duplicate, left as it was).
   * `outstanding`: the run's entries not yet settled, these included (backpressure).
   */
  async addEntries(
    runId: string,
    status: WaitingStatus,
    entries: readonly NewEntry[],
  ): Promise<{ added: boolean[]; outstanding: number }> {
    const args: (string | number)[] = [status];
    for (const e of entries) args.push(e.key, e.line ?? '', e.name ?? '');
    const [flags, outstanding] = (await ADD_ENTRIES.run(
      this.redis,
      [...this.keys.runScriptKeys(runId), this.keys.runNames(runId)],
      args,
    )) as [string, number];
    return { added: Array.from(flags, (f) => f === '1'), outstanding: Number(outstanding) };
  }

  /**
   * Moves an entry forward (or to a terminal/dead status). Returns whether anything changed; stale
   * or backward moves are ignored.
   */
  async move(runId: string, key: string, status: EntryStatus, detail?: EntryDetail): Promise<boolean> {
    return (await this.#transition(runId, key, status, detail, 'move')) === 1;
  }

  /** A dead entry goes back to a step (dead-letter replay); the run is unfinished again. */
  async reopen(runId: string, key: string, status: EntryStatus): Promise<boolean> {
    return (await this.#transition(runId, key, status, undefined, 'reopen')) === 1;
  }

  /**
   * Display names by roster key, for `runs report`. Kept apart from the entry detail, which each
   * move replaces.
   */
  async setNames(runId: string, names: Record<string, string>): Promise<void> {
    if (Object.keys(names).length > 0) await this.redis.hset(this.keys.runNames(runId), names);
  }

  async names(runId: string): Promise<Record<string, string>> {
    return await this.redis.hgetall(this.keys.runNames(runId));
  }

  async countRetry(runId: string, step: string): Promise<void> {
    await this.redis.hincrby(this.keys.run(runId), `retries:${step}`, 1);
  }

  /** Marks intake complete (no more entries) and checks whether the run is already finished. */
  async closeIntake(runId: string): Promise<boolean> {
    return (await CHECK_FINISHED.run(this.redis, [this.keys.run(runId)], [this.clock.now(), 'close'])) === 1;
  }

  async checkFinished(runId: string): Promise<boolean> {
    return (await CHECK_FINISHED.run(this.redis, [this.keys.run(runId)], [this.clock.now(), 'check'])) === 1;
  }

  async setMeta(runId: string, fields: Record<string, string | number>): Promise<void> {
    await this.redis.hset(this.keys.run(runId), fields);
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.run(runId));
    if (!h.id) return undefined;
    return parseRun(h);
  }

  /** Newest first. */
  async list(limit = 20): Promise<RunRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.runs, 0, limit - 1);
    const runs = await Promise.all(ids.map((id) => this.get(id)));
    return runs.filter((r): r is RunRecord => r !== undefined);
  }

  async latestId(): Promise<string | undefined> {
    return (await this.redis.zrevrange(this.keys.runs, 0, 0))[0];
  }

  /** Every entry with its status and detail. */
  async entries(runId: string): Promise<{ key: string; status: string; detail: EntryDetail }[]> {
    const [statuses, details] = await Promise.all([
      this.redis.hgetall(this.keys.runStatus(runId)),
      this.redis.hgetall(this.keys.runEntries(runId)),
    ]);
    return Object.entries(statuses).map(([key, status]) => ({
      key,
      status,
      detail: details[key] ? (JSON.parse(details[key]) as EntryDetail) : {},
    }));
  }

  async entryStatus(runId: string, key: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.runStatus(runId), key)) ?? undefined;
  }

  /**
   * Status and detail of several entries in one round trip (a batch job's checkpoint read);
   * `undefined` status for a key the run does not hold.
   */
  async entryStates(
    runId: string,
    keys: readonly string[],
  ): Promise<{ status: string | undefined; detail: EntryDetail }[]> {
    const replies = await this.redis
      .multi()
      .hmget(this.keys.runStatus(runId), ...keys)
      .hmget(this.keys.runEntries(runId), ...keys)
      .exec();
    for (const [err] of replies ?? []) if (err) throw err;
    const statuses = (replies?.[0]?.[1] ?? []) as (string | null)[];
    const details = (replies?.[1]?.[1] ?? []) as (string | null)[];
    return keys.map((_, i) => {
      const raw = details[i];
      return { status: statuses[i] ?? undefined, detail: raw ? (JSON.parse(raw) as EntryDetail) : {} };
    });
  }

  async #transition(
    runId: string,
    key: string,
    status: EntryStatus,
    detail: EntryDetail | undefined,
    mode: 'add' | 'move' | 'reopen',
  ): Promise<number> {
    const json = detail ? JSON.stringify({ ...detail, at: detail.at ?? this.clock.now() }) : '';
    const result = await TRANSITION.run(this.redis, this.keys.runScriptKeys(runId), [
      key,
      status,
      json,
      this.clock.now(),
      mode,
      detail?.line ?? '',
      detail?.code ?? '',
    ]);
    return Number(result);
  }
}

function parseRun(h: Record<string, string>): RunRecord {
  const counts: Record<string, number> = {};
  const done: Record<string, number> = {};
  const retries: Record<string, number> = {};
  const failures: Record<string, number> = {};
  for (const [field, value] of Object.entries(h)) {
    if (field.startsWith('count:')) counts[field.slice(6)] = Number(value);
    else if (field.startsWith('fail:')) {
      if (Number(value) > 0) failures[field.slice(5)] = Number(value);
    } else if (field.startsWith('done:')) done[field.slice(5)] = Number(value);
    else if (field.startsWith('retries:')) retries[field.slice(8)] = Number(value);
  }
  return {
    id: h.id ?? '',
    createdAt: Number(h.createdAt),
    source: h.source ?? '',
    delivery: (h.delivery ?? 'doorflow') as DeliveryChannelName,
    intake: h.intake === 'closed' ? 'closed' : 'open',
    finishedAt: h.finishedAt ? Number(h.finishedAt) : undefined,
    cancelledAt: h.cancelledAt ? Number(h.cancelledAt) : undefined,
    total: Number(h.total ?? 0),
    counts,
    done,
    retries,
    dead: Number(h.dead ?? 0),
    failures,
  };
}

/** Entries that ended provisioned (newly or already) out of the total. */
export function runSucceeded(run: RunRecord): boolean {
  const ok = (run.counts.provisioned ?? 0) + (run.counts.already_provisioned ?? 0);
  return run.finishedAt !== undefined && ok === run.total;
}

/**
 * The outcome group an entry status belongs to, as the outcome index files it (the TRANSITION
 * script mirrors this): `provisioned`, `already_provisioned`, `failed` (dead or invalid), `pending`
 * (at a step), or any other status as its own group, so a new outcome needs no change here.
 */
export function outcomeGroup(status: string): string {
  if (status === 'provisioned' || status === 'already_provisioned') return status;
  if (status === 'invalid' || status.startsWith('dead:')) return 'failed';
  if (['person', 'credential', 'invitation'].includes(status) || status.startsWith('delivery-'))
    return 'pending';
  return status;
}

/** Entries per outcome group, from the run's counters (no entry read). */
export function groupCounts(run: RunRecord): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [status, n] of Object.entries(run.counts)) {
    if (n <= 0) continue;
    const group = outcomeGroup(status);
    out[group] = (out[group] ?? 0) + n;
  }
  return out;
}

/** The human outcome of an entry: `provisioned`, `already_provisioned`, `cancelled`, `failed: CODE` or `pending: STEP`. */
export function entryOutcome(status: string, detail: EntryDetail): string {
  if (status === 'provisioned' || status === 'already_provisioned') return status;
  if (status === 'invalid') return `failed: ${detail.code ?? 'invalid_payload'}`;
  if (status === 'cancelled') return 'cancelled';
  if (status.startsWith('dead:')) return `failed: ${detail.code ?? 'unknown'}`;
  return `pending: ${status}`;
}
