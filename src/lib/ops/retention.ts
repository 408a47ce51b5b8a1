import type { RedisConnection } from '../core/redis.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { RunPurger, type RunPurgeSummary } from '../store/run-purge.ts';
import { purgeInactiveScimUsers } from '../store/scim-users.ts';
import type { Stores } from '../store/stores.ts';

/**
 * Every retention at once, as the janitor runs it (and `runs purge` runs its first part): expired
 * runs with their entries and people's names, dead letters past DLQ_RETENTION, revoked credentials'
 * status and history past REVOKED_RETENTION, SCIM users deactivated longer than REVOKED_RETENTION,
 * audit records past AUDIT_RETENTION. Everything else
 * we keep is bounded by a TTL, a count or the size of the roster (docs/architecture.md, Redis keys).
 */

export interface RetentionSummary {
  runs: RunPurgeSummary;
  /** Dead letters past DLQ_RETENTION (those of purged runs are counted in `runs.deadLetters`). */
  deadLetters: number;
  revokedCredentials: number;
  /** SCIM users deactivated longer than REVOKED_RETENTION. */
  scimUsers: number;
  auditRecords: number;
  /** Quarantined sync plans past PLAN_RETENTION (they hold people's names). */
  plans: number;
  dryRun: boolean;
}

export interface RetentionDeps {
  redis: RedisConnection;
  stores: Pick<Stores, 'keys' | 'runs' | 'deadLetters' | 'credentials'> & {
    audit?: Stores['audit'] | undefined;
    syncPlans?: Stores['syncPlans'] | undefined;
  };
  clock: Clock;
}

/** The expired runs only (`runs purge`): finished before `olderThanMs` ago, live ones never. */
export async function purgeRuns(
  deps: RetentionDeps,
  options: { olderThanMs: number; deadLetterRetentionMs: number; dryRun?: boolean },
): Promise<RunPurgeSummary> {
  const { redis, stores, clock } = deps;
  return await new RunPurger(redis, stores.keys, stores.runs, stores.deadLetters, clock).purge(options);
}

/** Enforces every retention of `retention` (the janitor's tick). */
export async function enforceRetention(
  deps: RetentionDeps,
  retention: Config['retention'],
  options: { dryRun?: boolean } = {},
): Promise<RetentionSummary> {
  const dryRun = options.dryRun === true;
  const runs = await purgeRuns(deps, {
    olderThanMs: retention.runMs,
    deadLetterRetentionMs: retention.deadLetterMs,
    dryRun,
  });
  const { stores, clock } = deps;
  const deadLetters = await stores.deadLetters.purge({ olderThanMs: retention.deadLetterMs }, { dryRun });
  const revokedCredentials = await stores.credentials.purgeTerminal(
    clock.now() - retention.revokedCredentialMs,
    dryRun,
  );
  const scimUsers = await purgeInactiveScimUsers(
    deps.redis,
    stores.keys,
    clock.now() - retention.revokedCredentialMs,
    dryRun,
  );
  const audit = stores.audit;
  const auditRecords = !audit ? 0 : dryRun ? await audit.countExpired() : await audit.trim();
  const plans = (await stores.syncPlans?.purge(retention.planMs, dryRun)) ?? 0;
  return { runs, deadLetters, revokedCredentials, scimUsers, auditRecords, plans, dryRun };
}

/** Whether a sweep found anything. */
export function removedAnything(s: RetentionSummary): boolean {
  return (
    s.runs.runs +
      s.runs.deadLetters +
      s.deadLetters +
      s.revokedCredentials +
      s.scimUsers +
      s.auditRecords +
      s.plans >
    0
  );
}

/** The figures of a sweep, for its log line and audit record (no names, no roster keys). */
export function retentionFigures(s: RetentionSummary): Record<string, number> {
  return {
    runs: s.runs.runs,
    entries: s.runs.entries,
    runKeys: s.runs.keys,
    runBytes: s.runs.bytes,
    deadLetters: s.runs.deadLetters + s.deadLetters,
    revokedCredentials: s.revokedCredentials,
    scimUsers: s.scimUsers,
    auditRecords: s.auditRecords,
    quarantinedPlans: s.plans,
    keptLiveRuns: s.runs.keptLive,
  };
}
