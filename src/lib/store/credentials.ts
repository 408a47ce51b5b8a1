import type { RedisConnection } from '../core/redis.ts';
import { luaScript } from '../core/lua.ts';
import { DELIVERY_CHANNELS } from '../delivery/channel-names.ts';
import type { RedisKeys } from './keys.ts';

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
 * - `cred:pending:{personId}` — a credential create was sent and its answer not yet settled
 */

/** Statuses a credential never leaves: a late or reordered event must not resurrect it. */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['revoked', 'deleted']);

/** Statuses in which we expect a change and so keep polling. */
export const MOVING_STATUSES: ReadonlySet<string> = new Set(['invited', 'provisioning', 'revoking']);

const HISTORY_MAX = 200;

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

const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));

// A terminal credential's keys in one step (terminal statuses are never left, so no recheck);
// the person's lookups go with their last credential.
// ARGV: id, its status index, the two lookup bases, its timer set, the timer index's due, payloads
// and in-hand keys (store/lifecycle-timers.ts): its timers go with it.
const PURGE_SCRIPT = luaScript(`
local person = redis.call('HGET', KEYS[#KEYS], 'personId')
local sid = redis.call('HGET', KEYS[#KEYS], 'systemId')
for _, m in ipairs(redis.call('SMEMBERS', ARGV[5])) do
  redis.call('ZREM', ARGV[6], m)
  redis.call('HDEL', ARGV[7], m)
  redis.call('ZREM', ARGV[8], m)
end
for i = 1, #KEYS do redis.call('UNLINK', KEYS[i]) end
redis.call('ZREM', ARGV[2], ARGV[1])
if person then
  local set = ARGV[3] .. person
  redis.call('SREM', set, ARGV[1])
  if sid and redis.call('SCARD', set) == 0 then redis.call('UNLINK', ARGV[4] .. sid) end
end
return 1
`);

/** Statuses whose records expire (REVOKED_RETENTION after they were reached). */
const EXPIRING_STATUSES = ['revoked', 'deleted'] as const;

/** A day: long enough for any retry of the credential step. */
const PENDING_CREATE_TTL_SEC = 86_400;

export class CredentialStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
  ) {}

  /** Records that credential `id` has `status` as of `atMs`, appending to its history when it changed. */
  async recordStatus(change: {
    id: string;
    status: string;
    atMs: number;
    source: string;
    meta?: CredentialMeta;
  }): Promise<RecordResult> {
    if (change.meta) await this.setMeta(change.id, change.meta);
    // EVALSHA (one status change per webhook, poll and delivery: the script text is not resent each time).
    const reply = (await recordScript.run(
      this.redis,
      [this.keys.credential(change.id), this.keys.credentialHistory(change.id), this.keys.credentialStatuses],
      [
        change.id,
        change.status,
        String(change.atMs),
        change.source,
        new Date(change.atMs).toISOString(),
        String(HISTORY_MAX),
        this.keys.credentialsByStatusBase,
      ],
    )) as [number, string | null];
    const [code, prev] = reply;
    const previous = prev ? prev : undefined;
    return { outcome: code === 1 ? 'changed' : code === 0 ? 'same' : 'stale', previous };
  }

  async setMeta(id: string, meta: CredentialMeta): Promise<void> {
    const fields: Record<string, string> = { id };
    for (const [name, value] of Object.entries(meta)) if (value !== undefined) fields[name] = String(value);
    const multi = this.redis.multi().hset(this.keys.credential(id), fields);
    if (meta.personId !== undefined) multi.sadd(this.keys.credentialsOfPerson(meta.personId), id);
    if (meta.systemId !== undefined && meta.personId !== undefined) {
      multi.set(this.keys.personOfSystemId(meta.systemId), String(meta.personId));
    }
    await multi.exec();
  }

  /** Adds one to a counter field (`reminders`, `reissues`) and returns the new value. */
  async incrementCounter(id: string, field: 'reminders' | 'reissues', by = 1): Promise<number> {
    return await this.redis.hincrby(this.keys.credential(id), field, by);
  }

  /** Sets a counter field (`reminders`, `reissues`) to `value`. */
  async setCounter(id: string, field: 'reminders' | 'reissues', value: number): Promise<void> {
    await this.redis.hset(this.keys.credential(id), field, String(value));
  }

  async get(id: string): Promise<CredentialRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.credential(id));
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

  async history(id: string): Promise<HistoryEntry[]> {
    const raw = await this.redis.lrange(this.keys.credentialHistory(id), 0, -1);
    return raw.map((line) => JSON.parse(line) as HistoryEntry);
  }

  async ofPerson(personId: number): Promise<string[]> {
    return (await this.redis.smembers(this.keys.credentialsOfPerson(personId))).sort();
  }

  async personIdForSystemId(systemId: string): Promise<number | undefined> {
    return num((await this.redis.get(this.keys.personOfSystemId(systemId))) ?? undefined);
  }

  /** Tracked credentials by current status (for metrics and `status`). */
  async countByStatus(): Promise<Record<string, number>> {
    const statuses = (await this.redis.smembers(this.keys.credentialStatuses)).sort();
    const out: Record<string, number> = {};
    for (const status of statuses) {
      const n = await this.redis.zcard(this.keys.credentialsByStatus(status));
      if (n > 0) out[status] = n;
    }
    return out;
  }

  /** Credentials in `provisioning` since before `nowMs - afterMs`. */
  async stuckProvisioningIds(nowMs: number, afterMs: number): Promise<string[]> {
    return await this.redis.zrangebyscore(
      this.keys.credentialsByStatus('provisioning'),
      '-inf',
      String(nowMs - afterMs),
    );
  }

  /**
   * Removes revoked and deleted credentials that reached that status before `cutoffMs`: status,
   * history, delivery records and their lookups (`dryRun`: counts only). Returns how many.
   */
  async purgeTerminal(cutoffMs: number, dryRun = false): Promise<number> {
    let removed = 0;
    for (const status of EXPIRING_STATUSES) {
      const index = this.keys.credentialsByStatus(status);
      let offset = 0;
      for (;;) {
        const ids = await this.redis.zrangebyscore(index, '-inf', cutoffMs, 'LIMIT', offset, 500);
        for (const id of ids) {
          if (!dryRun) {
            await PURGE_SCRIPT.run(this.redis, this.keys.credentialKeys(id, DELIVERY_CHANNELS), [
              id,
              index,
              ...this.keys.credentialLookupBases,
              this.keys.credentialTimers(id),
              ...this.keys.lifecycleTimerKeys,
            ]);
          }
        }
        removed += ids.length;
        if (ids.length < 500) break;
        if (dryRun) offset += ids.length;
      }
    }
    return removed;
  }

  /**
   * Whether a credential create for the person was sent and not settled (its response may have
   * been lost, so the retry lists before creating).
   */
  async createPending(personId: number): Promise<boolean> {
    return (await this.redis.exists(this.keys.credentialPending(personId))) === 1;
  }

  /** Marks that a credential create for the person is about to be sent. */
  async markCreatePending(personId: number, atMs: number): Promise<void> {
    await this.redis.set(this.keys.credentialPending(personId), atMs, 'EX', PENDING_CREATE_TTL_SEC);
  }

  async clearCreatePending(personId: number): Promise<void> {
    await this.redis.del(this.keys.credentialPending(personId));
  }
}
