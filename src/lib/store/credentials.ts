import type { Redis } from 'ioredis';
import { luaScript } from '../core/lua.ts';

/**
 * The credential status store: what we know of each HID credential's lifecycle
 * (invited → provisioning → active → revoking → revoked, plus any status DoorFlow invents — kept
 * as open strings) and when each change was seen.
 *
 * Keys (all under the hash-tagged prefix, so one Cluster slot):
 * - `cred:{id}` hash — `status`, `since` (ms of the last change), `checkedAt`, `source`, and
 *   metadata (`personId`, `systemId`, `key`, `channel`, `runId`, `expiresAt`, `reminders`, `reissues`, …)
 * - `cred:{id}:history` list — JSON `{status, from, at, source}` per change, oldest first (capped)
 * - `creds:by-status:{status}` sorted set — credential ids by `since` (metrics, stuck detection)
 * - `creds:by-person:{personId}` set, `creds:person-of:{systemId}` string — lookups for the CLI
 */

/** Statuses a credential never leaves: a late or reordered event must not resurrect it. */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['revoked', 'deleted']);

/** Statuses in which we expect a change and so keep polling. */
export const MOVING_STATUSES: ReadonlySet<string> = new Set(['invited', 'provisioning', 'revoking']);

export const HISTORY_MAX = 200;

export interface HistoryEntry {
  status: string;
  from: string | null;
  /** ISO-8601. */
  at: string;
  /** Who told us: `create`, `webhook`, `webhook-seed`, `poll`, `revoke`, `expiry`, … */
  source: string;
}

export interface CredentialRecord {
  id: string;
  status: string | undefined;
  /** When the current status was first seen (ms since epoch). */
  since: number | undefined;
  checkedAt: number | undefined;
  personId: number | undefined;
  systemId: string | undefined;
  key: string | undefined;
  channel: string | undefined;
  runId: string | undefined;
  /** When the invitation expires (ms since epoch), when known. */
  expiresAt: number | undefined;
  reminders: number;
  reissues: number;
  /** Credential this one replaced (reissue), if any. */
  replaces: string | undefined;
  replacedBy: string | undefined;
}

/** Metadata that may be attached to a credential (only defined fields are written). */
export interface CredentialMeta {
  personId?: number;
  systemId?: string;
  key?: string;
  channel?: string;
  runId?: string;
  expiresAt?: number;
  replaces?: string;
  replacedBy?: string;
}

export const credKey = (prefix: string, id: string) => `${prefix}:cred:${id}`;
export const historyKey = (prefix: string, id: string) => `${prefix}:cred:${id}:history`;
export const byStatusKey = (prefix: string, status: string) => `${prefix}:creds:by-status:${status}`;
export const statusesKey = (prefix: string) => `${prefix}:creds:statuses`;
export const byPersonKey = (prefix: string, personId: number) => `${prefix}:creds:by-person:${personId}`;
export const personOfKey = (prefix: string, systemId: string) => `${prefix}:creds:person-of:${systemId}`;

// Compare-and-append in one step, so concurrent writers (webhook, poller, revoker) cannot
// interleave a status and its history entry. Between known statuses only forward moves count
// (two reads racing can return in either order); an unknown status is ordered by time; terminal
// statuses are never left.
const recordScript = luaScript(`
local cur = redis.call('HGET', KEYS[1], 'status')
local since = tonumber(redis.call('HGET', KEYS[1], 'since') or '0') or 0
local at = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'checkedAt', ARGV[3])
if cur == ARGV[2] then return {0, cur} end
local rank = {invited = 1, provisioning = 2, active = 3, expired = 3, revoking = 4, revoked = 5, deleted = 5}
if cur then
  if cur == 'revoked' or cur == 'deleted' then return {-1, cur} end
  local r0, r1 = rank[cur], rank[ARGV[2]]
  if r0 and r1 then
    -- Both known: the lifecycle only moves forward, whatever order the observations arrive in.
    if r1 <= r0 then return {-1, cur} end
  elseif at < since then
    return {-1, cur}
  end
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'since', ARGV[3], 'source', ARGV[4])
local entry = cjson.encode({status = ARGV[2], from = cur or cjson.null, at = ARGV[5], source = ARGV[4]})
redis.call('RPUSH', KEYS[2], entry)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[6]), -1)
if cur then redis.call('ZREM', ARGV[7] .. cur, ARGV[1]) end
redis.call('ZADD', ARGV[7] .. ARGV[2], at, ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
return {1, cur or ''}
`);

export interface RecordResult {
  /** `changed`: a new status was stored; `same`: nothing new; `stale`: ignored (older or terminal). */
  outcome: 'changed' | 'same' | 'stale';
  previous: string | undefined;
}

/** Records that credential `id` has `status` as of `atMs`, appending to its history when it changed. */
export async function recordStatus(
  redis: Redis,
  prefix: string,
  change: { id: string; status: string; atMs: number; source: string; meta?: CredentialMeta },
): Promise<RecordResult> {
  if (change.meta) await setMeta(redis, prefix, change.id, change.meta);
  // EVALSHA (one status change per webhook, poll and delivery: the script text is not resent each time).
  const reply = (await recordScript.run(
    redis,
    [credKey(prefix, change.id), historyKey(prefix, change.id), statusesKey(prefix)],
    [
      change.id,
      change.status,
      String(change.atMs),
      change.source,
      new Date(change.atMs).toISOString(),
      String(HISTORY_MAX),
      `${prefix}:creds:by-status:`,
    ],
  )) as [number, string | null];
  const [code, prev] = reply;
  const previous = prev ? prev : undefined;
  return { outcome: code === 1 ? 'changed' : code === 0 ? 'same' : 'stale', previous };
}

export async function setMeta(redis: Redis, prefix: string, id: string, meta: CredentialMeta): Promise<void> {
  const fields: Record<string, string> = { id };
  for (const [name, value] of Object.entries(meta)) if (value !== undefined) fields[name] = String(value);
  const multi = redis.multi().hset(credKey(prefix, id), fields);
  if (meta.personId !== undefined) multi.sadd(byPersonKey(prefix, meta.personId), id);
  if (meta.systemId !== undefined && meta.personId !== undefined) {
    multi.set(personOfKey(prefix, meta.systemId), String(meta.personId));
  }
  await multi.exec();
}

/** Adds one to a counter field (`reminders`, `reissues`) and returns the new value. */
export async function incrementCounter(
  redis: Redis,
  prefix: string,
  id: string,
  field: 'reminders' | 'reissues',
  by = 1,
): Promise<number> {
  return await redis.hincrby(credKey(prefix, id), field, by);
}

const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));

export async function getCredentialRecord(
  redis: Redis,
  prefix: string,
  id: string,
): Promise<CredentialRecord | undefined> {
  const h = await redis.hgetall(credKey(prefix, id));
  if (!h.id) return undefined;
  return {
    id: h.id,
    status: h.status,
    since: num(h.since),
    checkedAt: num(h.checkedAt),
    personId: num(h.personId),
    systemId: h.systemId,
    key: h.key,
    channel: h.channel,
    runId: h.runId,
    expiresAt: num(h.expiresAt),
    reminders: num(h.reminders) ?? 0,
    reissues: num(h.reissues) ?? 0,
    replaces: h.replaces,
    replacedBy: h.replacedBy,
  };
}

export async function getHistory(redis: Redis, prefix: string, id: string): Promise<HistoryEntry[]> {
  const raw = await redis.lrange(historyKey(prefix, id), 0, -1);
  return raw.map((line) => JSON.parse(line) as HistoryEntry);
}

export async function credentialsOfPerson(redis: Redis, prefix: string, personId: number): Promise<string[]> {
  return (await redis.smembers(byPersonKey(prefix, personId))).sort();
}

export async function personIdForSystemId(
  redis: Redis,
  prefix: string,
  systemId: string,
): Promise<number | undefined> {
  return num((await redis.get(personOfKey(prefix, systemId))) ?? undefined);
}

/** Tracked credentials by current status (for metrics and `status`). */
export async function countByStatus(redis: Redis, prefix: string): Promise<Record<string, number>> {
  const statuses = (await redis.smembers(statusesKey(prefix))).sort();
  const out: Record<string, number> = {};
  for (const status of statuses) {
    const n = await redis.zcard(byStatusKey(prefix, status));
    if (n > 0) out[status] = n;
  }
  return out;
}

/** Credentials in `provisioning` since before `nowMs - afterMs`. */
export async function stuckProvisioningIds(
  redis: Redis,
  prefix: string,
  nowMs: number,
  afterMs: number,
): Promise<string[]> {
  return await redis.zrangebyscore(byStatusKey(prefix, 'provisioning'), '-inf', String(nowMs - afterMs));
}
