import type { RedisConnection } from '../core/redis.ts';
import type { RedisKeys } from './keys.ts';

/**
 * Roster sync state beside the pipeline run: per sync run, the plan's sizes and the offboarding
 * counters (`sync:{runId}` hash; `sync:{runId}:done` set, so a retried offboard job counts once),
 * and per source name the row count of its last complete read (`sync:last:{sourceName}`), which
 * the safety check compares with, and its latest plans (`sync:history:{sourceName}`).
 */

/** The plan's sizes, written when a sync is applied. */
export interface SyncPlanCounts {
  source: string;
  create: number;
  update: number;
  offboardPlanned: number;
  reenablePlanned: number;
  unchanged: number;
}

/** One line of a source's plan history. */
export interface PlanHistoryEntry {
  at: number;
  /** `applied`, `quarantined`, `approved`, `rejected`, `refused` (dry run) … */
  outcome: string;
  runId?: string | undefined;
  planId?: string | undefined;
  source: number;
  create: number;
  update: number;
  offboard: number;
}

/** Plans kept in a source's history. */
const HISTORY_LENGTH = 50;

/** How long the counted-once marks of an offboarding are kept. */
const DONE_TTL_SEC = 30 * 86_400;

export class SyncRunStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
  ) {}

  async recordPlan(runId: string, counts: SyncPlanCounts): Promise<void> {
    await this.redis.hset(this.keys.syncRun(runId), { ...counts });
  }

  /** The run's raw counters (plan sizes, `offboarded`, `revoked`, `reenabled`, `gone`). */
  async counters(runId: string): Promise<Record<string, string>> {
    return await this.redis.hgetall(this.keys.syncRun(runId));
  }

  /** Counts a re-enabled person once per run. */
  async countReenabled(runId: string, personId: number): Promise<void> {
    if ((await this.redis.sadd(this.keys.syncRunDone(runId), `reenable:${personId}`)) === 1) {
      await this.redis.hincrby(this.keys.syncRun(runId), 'reenabled', 1);
    }
  }

  /** Counts a leaver DoorFlow no longer knows (deleted by hand). */
  async countGone(runId: string): Promise<void> {
    await this.redis.hincrby(this.keys.syncRun(runId), 'gone', 1);
  }

  /** Counts an offboarded person once per run, with the credentials revoked for them. */
  async countOffboarded(runId: string, personId: number, revoked: number): Promise<void> {
    const done = this.keys.syncRunDone(runId);
    if ((await this.redis.sadd(done, `offboard:${personId}`)) === 1) {
      const counters = this.keys.syncRun(runId);
      await this.redis
        .multi()
        .hincrby(counters, 'offboarded', 1)
        .hincrby(counters, 'revoked', revoked)
        .expire(done, DONE_TTL_SEC)
        .exec();
    }
  }

  /** The source's row count at its last complete sync, if any. */
  async lastSourceCount(sourceName: string): Promise<number | undefined> {
    const previous = await this.redis.get(this.keys.syncLastCount(sourceName));
    return previous === null ? undefined : Number(previous);
  }

  async setLastSourceCount(sourceName: string, count: number): Promise<void> {
    await this.redis.set(this.keys.syncLastCount(sourceName), count);
  }

  /** Adds a plan to the source's history (the last 50 are kept: figures, no names). */
  async addHistory(sourceName: string, entry: PlanHistoryEntry): Promise<void> {
    const key = this.keys.syncHistory(sourceName);
    await this.redis
      .multi()
      .lpush(key, JSON.stringify(entry))
      .ltrim(key, 0, HISTORY_LENGTH - 1)
      .exec();
  }

  /** The source's plans, newest first. */
  async history(sourceName: string): Promise<PlanHistoryEntry[]> {
    const raws = await this.redis.lrange(this.keys.syncHistory(sourceName), 0, -1);
    return raws.map((raw) => JSON.parse(raw) as PlanHistoryEntry);
  }
}
