import type { RedisConnection } from '../core/redis.ts';
import { luaScript } from '../core/lua.ts';
import type { RedisKeys } from './keys.ts';

/**
 * Every lifecycle timer of the fleet (status poll, reminder, expiry, stuck check) in one due-time
 * index, instead of one delayed BullMQ job per credential and timer:
 *
 * - `lifecycle:due` sorted set — member = the timer's deterministic job id, score = due time on the
 *   lifecycle clock. Scheduling twice keeps one member; scheduling again moves it.
 * - `lifecycle:timers` hash — member → `{q, c, d}`: its queue, credential and job data (JSON).
 * - `lifecycle:in-hand` sorted set — timers popped by a scheduler tick and not yet handed to their
 *   queue, scored by the end of a lease on Redis's own clock (TIME: leases must not jump with a
 *   moved lifecycle clock).
 * - `cred:{id}:timers` set — the credential's members, so a status change or purge cancels them.
 *
 * Firing is pop → add → ack. {@link pop} moves due members to the in-hand set in one script, so
 * concurrent ticks never get the same timer; the caller adds each as an immediate job under its
 * job id, then {@link ack}s. A process that dies in between leaves its timers in hand: the next
 * pop after the lease re-offers them, and re-adding under the same job id is a no-op while the
 * first job still exists (the handlers are idempotent besides). Lua cannot call BullMQ's add, so
 * a pop that also added the job in one script is not possible; the lease is what makes it safe.
 */

export interface TimerSpec {
  /** The job id it fires as (deterministic: `poll--…`, `rem--…`, `exp--…`, `stuck--…`). */
  id: string;
  /** The lifecycle queue it fires on. */
  queue: string;
  /** Due on the lifecycle clock, ms. */
  dueAt: number;
  /** The job data it fires with. */
  data: Record<string, unknown>;
}

export interface PoppedTimer {
  id: string;
  queue: string;
  credentialId: string;
  data: Record<string, unknown>;
}

interface StoredTimer {
  q: string;
  c: string;
  d: Record<string, unknown>;
}

/** A timer popped this long ago and not acknowledged is offered again (ms of Redis time). */
const DEFAULT_LEASE_MS = 60_000;

// KEYS: due, timers, in hand, the credential's timer set. ARGV: replace (1|0), then per timer
// member, score, payload. `replace` first cancels the credential's timers not in the new list.
// A timer in hand is firing now under the same job id: leave it be. One ZADD, HSET and SADD for
// all (a credential has at most four timers).
const SCHEDULE = luaScript(`
local keep = {}
for i = 2, #ARGV, 3 do keep[ARGV[i]] = true end
if ARGV[1] == '1' then
  for _, m in ipairs(redis.call('SMEMBERS', KEYS[4])) do
    if not keep[m] then
      redis.call('ZREM', KEYS[1], m)
      redis.call('ZREM', KEYS[3], m)
      redis.call('HDEL', KEYS[2], m)
      redis.call('SREM', KEYS[4], m)
    end
  end
end
local held = {}
if #ARGV > 1 and redis.call('ZCARD', KEYS[3]) > 0 then
  for i = 2, #ARGV, 3 do held[i] = redis.call('ZSCORE', KEYS[3], ARGV[i]) end
end
local scored, fields, members = {}, {}, {}
for i = 2, #ARGV, 3 do
  if not held[i] then
    scored[#scored + 1] = ARGV[i + 1]
    scored[#scored + 1] = ARGV[i]
    fields[#fields + 1] = ARGV[i]
    fields[#fields + 1] = ARGV[i + 2]
    members[#members + 1] = ARGV[i]
  end
end
if #members > 0 then
  redis.call('ZADD', KEYS[1], unpack(scored))
  redis.call('HSET', KEYS[2], unpack(fields))
  redis.call('SADD', KEYS[4], unpack(members))
end
return #members
`);

// KEYS: due, timers, in hand. ARGV: lifecycle now, batch size, lease ms. Re-offers expired
// leases (first in line: score 0), then moves up to a batch of due timers into hand.
const POP = luaScript(`
local t = redis.call('TIME')
local real = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', real, 'LIMIT', 0, ARGV[2])) do
  redis.call('ZREM', KEYS[3], m)
  if redis.call('HEXISTS', KEYS[2], m) == 1 then redis.call('ZADD', KEYS[1], 'NX', 0, m) end
end
local out = {}
local lease = real + tonumber(ARGV[3])
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])) do
  redis.call('ZREM', KEYS[1], m)
  local p = redis.call('HGET', KEYS[2], m)
  if p then
    redis.call('ZADD', KEYS[3], lease, m)
    out[#out + 1] = m
    out[#out + 1] = p
  end
end
return out
`);

// KEYS: due, timers, in hand. ARGV: per timer member, its credential's timer set. A timer no
// longer in hand was cancelled or re-offered (another tick owns it now): not ours to forget.
const ACK = luaScript(`
for i = 1, #ARGV, 2 do
  local m = ARGV[i]
  if redis.call('ZREM', KEYS[3], m) == 1 and not redis.call('ZSCORE', KEYS[1], m) then
    redis.call('HDEL', KEYS[2], m)
    redis.call('SREM', ARGV[i + 1], m)
  end
end
return 1
`);

export class LifecycleTimerStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
    private readonly leaseMs = DEFAULT_LEASE_MS,
  ) {}

  /**
   * Sets a credential's timers in one round trip. `replace`: these are all the timers its status
   * needs, so any other timer of it is cancelled; otherwise they are added beside the others.
   */
  async schedule(credentialId: string, timers: readonly TimerSpec[], replace: boolean): Promise<void> {
    if (timers.length === 0 && !replace) return;
    const args: (string | number)[] = [replace ? 1 : 0];
    for (const t of timers) {
      const stored: StoredTimer = { q: t.queue, c: credentialId, d: t.data };
      args.push(t.id, t.dueAt, JSON.stringify(stored));
    }
    await SCHEDULE.run(
      this.redis,
      [...this.keys.lifecycleTimerKeys, this.keys.credentialTimers(credentialId)],
      args,
    );
  }

  /** Cancels every timer of the credential (status left the moving ones, purge). */
  async cancel(credentialId: string): Promise<void> {
    await this.schedule(credentialId, [], true);
  }

  /** Takes up to `limit` timers due by `nowMs` into hand (each goes to exactly one caller). */
  async pop(nowMs: number, limit: number): Promise<PoppedTimer[]> {
    const flat = (await POP.run(this.redis, this.keys.lifecycleTimerKeys, [
      nowMs,
      limit,
      this.leaseMs,
    ])) as string[];
    const out: PoppedTimer[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const stored = JSON.parse(flat[i + 1] as string) as StoredTimer;
      out.push({ id: flat[i] as string, queue: stored.q, credentialId: stored.c, data: stored.d });
    }
    return out;
  }

  /** Forgets timers handed to their queue. */
  async ack(timers: readonly PoppedTimer[]): Promise<void> {
    if (timers.length === 0) return;
    await ACK.run(
      this.redis,
      this.keys.lifecycleTimerKeys,
      timers.flatMap((t) => [t.id, this.keys.credentialTimers(t.credentialId)]),
    );
  }

  /** Timers waiting, by due time (for `status`, tests and the soak bench). */
  async due(limit = 1_000): Promise<{ id: string; queue: string; dueAt: number }[]> {
    const flat = await this.redis.zrange(this.keys.lifecycleDue, 0, limit - 1, 'WITHSCORES');
    const ids: string[] = [];
    const scores: number[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      ids.push(flat[i] as string);
      scores.push(Number(flat[i + 1]));
    }
    if (ids.length === 0) return [];
    const payloads = await this.redis.hmget(this.keys.lifecycleTimers, ...ids);
    return ids.map((id, i) => ({
      id,
      queue: payloads[i] ? (JSON.parse(payloads[i] as string) as StoredTimer).q : '',
      dueAt: scores[i] as number,
    }));
  }

  /** How many timers are waiting, and how many are in hand. */
  async counts(): Promise<{ due: number; inHand: number }> {
    const [due, inHand] = await Promise.all([
      this.redis.zcard(this.keys.lifecycleDue),
      this.redis.zcard(this.keys.lifecycleInHand),
    ]);
    return { due, inHand };
  }
}
