import type { RedisConnection } from '../core/redis.ts';
import type { Clock } from '../core/clock.ts';
import type { Metrics } from '../core/metrics.ts';
import { AlertStore } from './alerts.ts';
import { AuditLog } from './audit-log.ts';
import { CodeStore } from './codes.ts';
import { CredentialStore } from './credentials.ts';
import { LifecycleTimerStore } from './lifecycle-timers.ts';
import { DeadLetterStore } from './dead-letters.ts';
import { DeliveryStore } from './deliveries.ts';
import type { RedisKeys } from './keys.ts';
import { ManagedSet } from './managed.ts';
import { PeopleIndex } from './people-index.ts';
import { PipelinePauseStore } from './pipeline-pause.ts';
import { RunCancelStore } from './run-cancel.ts';
import { RunNoticeStore } from './run-notices.ts';
import { RunPages } from './run-pages.ts';
import { RunStore } from './runs.ts';
import { SyncRunStore } from './sync-runs.ts';
import { SyncPlanStore } from './sync-plans.ts';
import { LicenceStore } from './licences.ts';
import { WebhookSignatureStore } from './webhook-signatures.ts';
import { AdminSessionStore } from './admin-sessions.ts';
import { WorkerStore } from './workers.ts';

/** Every store over one Redis connection, one key space and one clock. */
export interface Stores {
  readonly keys: RedisKeys;
  readonly runs: RunStore;
  /** Paged reads of a run's entries by outcome (pages, reports). */
  readonly runPages: RunPages;
  readonly runNotices: RunNoticeStore;
  readonly runCancels: RunCancelStore;
  readonly pipelinePause: PipelinePauseStore;
  readonly deadLetters: DeadLetterStore;
  readonly people: PeopleIndex;
  readonly managed: ManagedSet;
  readonly credentials: CredentialStore;
  readonly codes: CodeStore;
  /** Every lifecycle timer in one due-time index. */
  readonly timers: LifecycleTimerStore;
  readonly deliveries: DeliveryStore;
  readonly syncRuns: SyncRunStore;
  readonly syncPlans: SyncPlanStore;
  readonly licences: LicenceStore;
  readonly audit: AuditLog;
  readonly alerts: AlertStore;
  readonly webhookSignatures: WebhookSignatureStore;
  readonly adminSessions: AdminSessionStore;
  readonly workers: WorkerStore;
}

export interface StoreOptions {
  /** Audit entries older than this are trimmed (`config.admin.auditRetentionMs`). */
  auditRetentionMs: number;
  /** Counts audit appends; optional. */
  metrics?: Metrics | undefined;
}

export function createStores(
  redis: RedisConnection,
  keys: RedisKeys,
  clock: Clock,
  options: StoreOptions,
): Stores {
  return {
    keys,
    runs: new RunStore(redis, keys, clock),
    runPages: new RunPages(redis, keys),
    runNotices: new RunNoticeStore(redis, keys),
    runCancels: new RunCancelStore(redis, keys, clock),
    pipelinePause: new PipelinePauseStore(redis, keys, clock),
    deadLetters: new DeadLetterStore(redis, keys, clock),
    people: new PeopleIndex(redis, keys),
    managed: new ManagedSet(redis, keys),
    credentials: new CredentialStore(redis, keys),
    codes: new CodeStore(redis, keys),
    timers: new LifecycleTimerStore(redis, keys),
    deliveries: new DeliveryStore(redis, keys),
    syncRuns: new SyncRunStore(redis, keys),
    syncPlans: new SyncPlanStore(redis, keys, clock),
    licences: new LicenceStore(redis, keys),
    audit: new AuditLog(redis, keys, clock, {
      retentionMs: options.auditRetentionMs,
      metrics: options.metrics,
    }),
    alerts: new AlertStore(redis, keys),
    webhookSignatures: new WebhookSignatureStore(redis, keys),
    adminSessions: new AdminSessionStore(redis, keys),
    workers: new WorkerStore(redis, keys),
  };
}
