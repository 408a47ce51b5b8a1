import type { RedisConnection } from '../core/redis.ts';
import type { Clock } from '../core/clock.ts';
import type { RedisKeys } from './keys.ts';

/**
 * Quarantined plans: a sync (or SCIM burst) plan a safety check stopped, kept until an operator
 * approves or rejects it, or PLAN_RETENTION passes (the janitor). `plan:{id}` holds the record as
 * JSON — its figures in the clear for listings, its diff (people's names) as the caller sealed it
 * — and `plans` indexes the ids by quarantine time. Taking a plan (approve, reject) deletes it in
 * one step, so two approvals of one plan apply it once.
 */

/** What a listing shows of a quarantined plan: figures only, no names. */
export interface PlanSummary {
  id: string;
  /** The source name its safety checks and history are kept under (`bamboohr:acme`, `csv`, `scim`). */
  sourceName: string;
  /** Where the roster came from (`csv:/data/staff.csv`), or `scim` for a burst. */
  sourceId: string;
  quarantinedAt: number;
  refusals: string[];
  counts: {
    create: number;
    update: number;
    offboard: number;
    unchanged: number;
    source: number;
    scope: number;
    /** HID licences the plan would consume and release. */
    consume: number;
    release: number;
  };
  /** Licences left before the plan (undefined: no limit known). */
  headroom?: number | undefined;
}

/** A stored plan: its summary and its diff, sealed (or JSON) as the caller gave it. */
export interface StoredPlan extends PlanSummary {
  /** The plan and the options to apply it with; sealed with ENCRYPTION_KEY when one is set. */
  body: string;
  sealed: boolean;
}

export class SyncPlanStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
    private readonly clock: Clock,
  ) {}

  async put(plan: StoredPlan): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.quarantinedPlan(plan.id), JSON.stringify(plan))
      .zadd(this.keys.quarantinedPlans, plan.quarantinedAt, plan.id)
      .exec();
  }

  /**
   * Rewrites a plan still quarantined (a SCIM burst that grew); false when it was taken meanwhile,
   * so an approval racing the rewrite is never undone by it.
   */
  async replace(plan: StoredPlan): Promise<boolean> {
    return (await this.redis.set(this.keys.quarantinedPlan(plan.id), JSON.stringify(plan), 'XX')) === 'OK';
  }

  async get(id: string): Promise<StoredPlan | undefined> {
    const raw = await this.redis.get(this.keys.quarantinedPlan(id));
    return raw === null ? undefined : (JSON.parse(raw) as StoredPlan);
  }

  /** Quarantined plans, oldest first, without their diffs. */
  async list(): Promise<PlanSummary[]> {
    const ids = await this.redis.zrange(this.keys.quarantinedPlans, 0, -1);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(...ids.map((id) => this.keys.quarantinedPlan(id)));
    return raws.flatMap((raw) => {
      if (raw === null) return [];
      const { body: _body, sealed: _sealed, ...summary } = JSON.parse(raw) as StoredPlan;
      return [summary];
    });
  }

  /** Removes the plan and returns it; undefined when it was taken already (or never existed). */
  async take(id: string): Promise<StoredPlan | undefined> {
    const [[, raw] = [], ,] =
      (await this.redis
        .multi()
        .get(this.keys.quarantinedPlan(id))
        .del(this.keys.quarantinedPlan(id))
        .zrem(this.keys.quarantinedPlans, id)
        .exec()) ?? [];
    return typeof raw === 'string' ? (JSON.parse(raw) as StoredPlan) : undefined;
  }

  /** Removes plans quarantined before `olderThanMs` ago (the janitor); returns how many. */
  async purge(olderThanMs: number, dryRun = false): Promise<number> {
    const ids = await this.redis.zrangebyscore(
      this.keys.quarantinedPlans,
      '-inf',
      this.clock.now() - olderThanMs,
    );
    if (dryRun || ids.length === 0) return ids.length;
    const multi = this.redis.multi();
    for (const id of ids) multi.unlink(this.keys.quarantinedPlan(id)).zrem(this.keys.quarantinedPlans, id);
    await multi.exec();
    return ids.length;
  }
}
