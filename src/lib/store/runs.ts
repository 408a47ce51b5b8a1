import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { luaScript } from '../core/lua.ts';
import type { DeliveryChannelName } from '../delivery/channel-names.ts';

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
  total: number;
  /** Entries per current status. */
  counts: Record<string, number>;
  /** Entries that completed each step. */
  done: Record<string, number>;
  /** Failed attempts (later retried) per step. */
  retries: Record<string, number>;
  dead: number;
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
local function terminal(s) return s == 'provisioned' or s == 'already_provisioned' or s == 'invalid' end
local function isdead(s) return string.sub(s, 1, 5) == 'dead:' end
local key, new, detail, now, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local old = redis.call('HGET', KEYS[2], key)
if mode == 'add' then
  if old then return 0 end
  redis.call('HINCRBY', KEYS[1], 'total', 1)
elseif not old then
  return -1
elseif old == new then
  if detail ~= '' then redis.call('HSET', KEYS[3], key, detail) end
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
end
redis.call('HSET', KEYS[2], key, new)
if detail ~= '' then redis.call('HSET', KEYS[3], key, detail) end
redis.call('HINCRBY', KEYS[1], 'count:' .. new, 1)
if isdead(new) then redis.call('HINCRBY', KEYS[1], 'dead', 1) end
-- Finish detection in the same script: a settled entry may finish the run, a reopened one unfinishes it.
if mode ~= 'add' and (terminal(new) or isdead(new) or mode == 'reopen') then
  local h = redis.call('HMGET', KEYS[1], 'intake', 'total', 'count:provisioned', 'count:already_provisioned', 'count:invalid', 'dead')
  local settled = (tonumber(h[3]) or 0) + (tonumber(h[4]) or 0) + (tonumber(h[5]) or 0) + (tonumber(h[6]) or 0)
  if h[1] == 'closed' and (tonumber(h[2]) or 0) == settled then redis.call('HSETNX', KEYS[1], 'finishedAt', now)
  else redis.call('HDEL', KEYS[1], 'finishedAt') end
end
return 1
`);

const CHECK_FINISHED = luaScript(`
if ARGV[2] == 'close' then redis.call('HSET', KEYS[1], 'intake', 'closed') end
local h = redis.call('HMGET', KEYS[1], 'intake', 'total', 'count:provisioned', 'count:already_provisioned', 'count:invalid', 'dead')
local finished = h[1] == 'closed' and (tonumber(h[2]) or 0) == (tonumber(h[3]) or 0) + (tonumber(h[4]) or 0) + (tonumber(h[5]) or 0) + (tonumber(h[6]) or 0)
if finished then redis.call('HSETNX', KEYS[1], 'finishedAt', ARGV[1]) return 1 end
redis.call('HDEL', KEYS[1], 'finishedAt')
return 0
`);

export interface RunKeys {
  run: string;
  status: string;
  entries: string;
}

export function runKeys(prefix: string, runId: string): RunKeys {
  return {
    run: `${prefix}:run:${runId}`,
    status: `${prefix}:run:${runId}:status`,
    entries: `${prefix}:run:${runId}:entries`,
  };
}

/** A sortable, colon-free run id: `r` + UTC timestamp + random suffix. */
export function newRunId(now = Date.now()): string {
  const stamp = new Date(now).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `r${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Run records over one Redis connection. */
export class RunStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  async create(options: { source: string; delivery: DeliveryChannelName; id?: string }): Promise<string> {
    const createdAt = this.now();
    const id = options.id ?? newRunId(createdAt);
    const keys = runKeys(this.prefix, id);
    await this.redis
      .multi()
      .hset(keys.run, {
        id,
        createdAt,
        source: options.source,
        delivery: options.delivery,
        intake: 'open',
        total: 0,
        dead: 0,
      })
      .zadd(`${this.prefix}:runs`, createdAt, id)
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
    if (Object.keys(names).length > 0)
      await this.redis.hset(`${runKeys(this.prefix, runId).run}:names`, names);
  }

  async names(runId: string): Promise<Record<string, string>> {
    return await this.redis.hgetall(`${runKeys(this.prefix, runId).run}:names`);
  }

  async countRetry(runId: string, step: string): Promise<void> {
    await this.redis.hincrby(runKeys(this.prefix, runId).run, `retries:${step}`, 1);
  }

  /** Marks intake complete (no more entries) and checks whether the run is already finished. */
  async closeIntake(runId: string): Promise<boolean> {
    return (
      (await CHECK_FINISHED.run(this.redis, [runKeys(this.prefix, runId).run], [this.now(), 'close'])) === 1
    );
  }

  async checkFinished(runId: string): Promise<boolean> {
    return (
      (await CHECK_FINISHED.run(this.redis, [runKeys(this.prefix, runId).run], [this.now(), 'check'])) === 1
    );
  }

  async setMeta(runId: string, fields: Record<string, string | number>): Promise<void> {
    await this.redis.hset(runKeys(this.prefix, runId).run, fields);
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    const h = await this.redis.hgetall(runKeys(this.prefix, runId).run);
    if (!h.id) return undefined;
    return parseRun(h);
  }

  /** Newest first. */
  async list(limit = 20): Promise<RunRecord[]> {
    const ids = await this.redis.zrevrange(`${this.prefix}:runs`, 0, limit - 1);
    const runs = await Promise.all(ids.map((id) => this.get(id)));
    return runs.filter((r): r is RunRecord => r !== undefined);
  }

  async latestId(): Promise<string | undefined> {
    return (await this.redis.zrevrange(`${this.prefix}:runs`, 0, 0))[0];
  }

  /** Every entry with its status and detail. */
  async entries(runId: string): Promise<{ key: string; status: string; detail: EntryDetail }[]> {
    const keys = runKeys(this.prefix, runId);
    const [statuses, details] = await Promise.all([
      this.redis.hgetall(keys.status),
      this.redis.hgetall(keys.entries),
    ]);
    return Object.entries(statuses).map(([key, status]) => ({
      key,
      status,
      detail: details[key] ? (JSON.parse(details[key]) as EntryDetail) : {},
    }));
  }

  async entryStatus(runId: string, key: string): Promise<string | undefined> {
    return (await this.redis.hget(runKeys(this.prefix, runId).status, key)) ?? undefined;
  }

  async #transition(
    runId: string,
    key: string,
    status: EntryStatus,
    detail: EntryDetail | undefined,
    mode: 'add' | 'move' | 'reopen',
  ): Promise<number> {
    const keys = runKeys(this.prefix, runId);
    const json = detail ? JSON.stringify({ ...detail, at: detail.at ?? this.now() }) : '';
    const result = await TRANSITION.run(
      this.redis,
      [keys.run, keys.status, keys.entries],
      [key, status, json, this.now(), mode],
    );
    return Number(result);
  }
}

function parseRun(h: Record<string, string>): RunRecord {
  const counts: Record<string, number> = {};
  const done: Record<string, number> = {};
  const retries: Record<string, number> = {};
  for (const [field, value] of Object.entries(h)) {
    if (field.startsWith('count:')) counts[field.slice(6)] = Number(value);
    else if (field.startsWith('done:')) done[field.slice(5)] = Number(value);
    else if (field.startsWith('retries:')) retries[field.slice(8)] = Number(value);
  }
  return {
    id: h.id ?? '',
    createdAt: Number(h.createdAt),
    source: h.source ?? '',
    delivery: (h.delivery ?? 'doorflow') as DeliveryChannelName,
    intake: h.intake === 'closed' ? 'closed' : 'open',
    finishedAt: h.finishedAt ? Number(h.finishedAt) : undefined,
    total: Number(h.total ?? 0),
    counts,
    done,
    retries,
    dead: Number(h.dead ?? 0),
  };
}

/** Entries that ended provisioned (newly or already) out of the total. */
export function runSucceeded(run: RunRecord): boolean {
  const ok = (run.counts.provisioned ?? 0) + (run.counts.already_provisioned ?? 0);
  return run.finishedAt !== undefined && ok === run.total;
}

/** The human outcome of an entry: `provisioned`, `already_provisioned`, `failed: CODE` or `pending: STEP`. */
export function entryOutcome(status: string, detail: EntryDetail): string {
  if (status === 'provisioned' || status === 'already_provisioned') return status;
  if (status === 'invalid') return `failed: ${detail.code ?? 'invalid_payload'}`;
  if (status.startsWith('dead:')) return `failed: ${detail.code ?? 'unknown'}`;
  return `pending: ${status}`;
}
