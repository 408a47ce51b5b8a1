import type { RedisConnection } from '../core/redis.ts';
import type { RedisKeys } from './keys.ts';

/**
 * SCIM request bursts: an IdP pushing a change to many users sends one request per user, seconds
 * apart. Requests closer together than the burst window share one run (`scim:burst`: its id and
 * when the burst ends), and the burst's deactivations are listed
 * (`scim:burst:{runId}:offboards`, removed with the run) so the offboarding safety check sees the
 * whole burst, not one request. A burst over the threshold is quarantined as one plan, and
 * `scim:quarantined` remembers which plan holds each of its users, so a retried deactivation finds
 * the plan instead of starting another.
 */

export interface ScimBurst {
  runId: string;
  /** ms since epoch; a request after this starts a new burst. */
  until: number;
}

/** A deactivation waiting in its burst (the offboard job is held until the window ends). */
export interface HeldOffboard {
  /** The SCIM user id. */
  scimId: string;
  key: string;
  personId: number;
  /** The held `offboard` job. */
  jobId: string;
}

export class ScimBurstStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
  ) {}

  async current(): Promise<ScimBurst | undefined> {
    const h = await this.redis.hgetall(this.keys.scimBurst);
    if (!h.runId) return undefined;
    return { runId: h.runId, until: Number(h.until ?? 0) };
  }

  /** Makes `burst` the current one (a new run, or the same run with a later end). */
  async set(burst: ScimBurst): Promise<void> {
    await this.redis.hset(this.keys.scimBurst, { runId: burst.runId, until: burst.until });
  }

  /** Adds a held deactivation to the burst; returns every one the burst holds, this one included. */
  async hold(runId: string, offboard: HeldOffboard): Promise<HeldOffboard[]> {
    const key = this.keys.scimBurstOffboards(runId);
    const [, listed] = (await this.redis
      .multi()
      .rpush(key, JSON.stringify(offboard))
      .lrange(key, 0, -1)
      .exec()) as [[Error | null, number], [Error | null, string[]]];
    const seen = new Map<string, HeldOffboard>();
    // A retried request lists its user twice: count each user once.
    for (const json of listed[1] ?? []) {
      const held = JSON.parse(json) as HeldOffboard;
      seen.set(held.scimId, held);
    }
    return [...seen.values()];
  }

  /** The quarantined plan holding the user's deactivation (the plan may be gone since). */
  async planOf(scimId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.scimQuarantined, scimId)) ?? undefined;
  }

  /** Remembers that these users' deactivations wait in plan `planId`. */
  async markQuarantined(planId: string, scimIds: readonly string[]): Promise<void> {
    if (scimIds.length === 0) return;
    await this.redis.hset(this.keys.scimQuarantined, Object.fromEntries(scimIds.map((id) => [id, planId])));
  }

  /** Forgets a user's plan (approved, rejected or expired). */
  async forgetPlan(scimId: string): Promise<void> {
    await this.redis.hdel(this.keys.scimQuarantined, scimId);
  }
}
