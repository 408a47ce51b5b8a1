import type { Got } from 'got';
import type { RedisConnection } from '../lib/core/redis.ts';
import type { Clock } from '../lib/core/clock.ts';
import type { Config } from '../lib/core/config.ts';
import type { DeadLetterStore } from '../lib/store/dead-letters.ts';
import { encryptSecret } from '../lib/core/crypto.ts';
import type { DoorFlowApi } from '../lib/doorflow/types.ts';
import { ProvisionerError } from '../lib/core/errors.ts';
import type { AuditLog } from '../lib/store/audit-log.ts';
import type { Logger } from '../lib/core/logger.ts';
import type { Metrics } from '../lib/core/metrics.ts';
import type { PeopleIndex } from '../lib/store/people-index.ts';
import type { JobProcessor } from '../lib/jobs/define-processor.ts';
import type { DeliveryQueue, PayloadInput, Queues } from '../lib/jobs/registry.ts';
import type { AlertStore } from '../lib/store/alerts.ts';
import type { CodeStore } from '../lib/store/codes.ts';
import type { LifecycleTimerStore } from '../lib/store/lifecycle-timers.ts';
import type { CredentialStore } from '../lib/store/credentials.ts';
import type { DeliveryStore } from '../lib/store/deliveries.ts';
import type { RedisKeys } from '../lib/store/keys.ts';
import type { ManagedSet } from '../lib/store/managed.ts';
import type { RunCancelStore } from '../lib/store/run-cancel.ts';
import type { RunStore } from '../lib/store/runs.ts';
import type { DeliveryChannels } from '../lib/delivery/delivery-channels.ts';
import type { SyncRunStore } from '../lib/store/sync-runs.ts';
import type { SyncPlanStore } from '../lib/store/sync-plans.ts';
import type { LicenceStore } from '../lib/store/licences.ts';

/** What every processor receives; built once by the composition root. No singletons inside handlers. */
export interface ProcessorDeps {
  config: Config;
  doorflow: DoorFlowApi;
  /** The account's HID Mobile Access credential type id (resolved once by the client). */
  hidCredentialTypeId(): Promise<number>;
  /** A plain connection for our own keys (runs, locks, indexes); not BullMQ's blocking one. */
  redis: RedisConnection;
  prefix: string;
  /** Every key under `prefix` (locks and markers a step keeps itself). */
  keys: RedisKeys;
  queues: Queues;
  runs: RunStore;
  /** Cancel marks: a pipeline step of a cancelled run ends its entry instead of running. */
  runCancels: RunCancelStore;
  deadLetters: DeadLetterStore;
  people: PeopleIndex;
  /** People this tool created (sync offboards only those). */
  managed: ManagedSet;
  /** Credential status, history and metadata. */
  credentials: CredentialStore;
  /** Confirmed sends per credential and channel. */
  deliveries: DeliveryStore;
  /** The encrypted reminder copy of invitation codes. */
  codes: CodeStore;
  /** The lifecycle timers (reminders, expiry, polls, stuck checks) by due time. */
  timers: LifecycleTimerStore;
  /** Sync run counters (offboarding). */
  syncRuns: SyncRunStore;
  /** Quarantined sync plans awaiting approval. */
  syncPlans: SyncPlanStore;
  /** The HID licence limit learned from DoorFlow's first `limit_reached`. */
  licences: LicenceStore;
  /** Alert dedupe marks and counters. */
  alerts: AlertStore;
  /** HTTP for outbound notices (alerts); retries are off, BullMQ is the one retry layer. */
  http: Got;
  /** Our own delivery channels (webhook, email, sms), built by the composition root. */
  channels: DeliveryChannels;
  clock: Clock;
  logger: Logger;
  /** Job outcomes and durations, deliveries (optional: tests that do not care leave it out). */
  metrics?: Metrics;
  /** When set, every DoorFlow write a job makes is audited with its run and roster key. */
  audit?: AuditLog;
}

/** Per-job helpers given to a handler. */
export interface JobContext {
  logger: Logger;
  jobId: string;
  /** Failed attempts before this one. */
  attemptsMade: number;
  signal: AbortSignal | undefined;
  /**
   * Moves the job to the delayed set ("not ready yet") without spending an attempt; throw the
   * returned error right away.
   */
  delay(ms: number): Promise<Error>;
  /** Replaces the job's stored data (e.g. to remember when a wait started, or to drop a code). */
  updateData(data: Record<string, unknown>): Promise<void>;
  /**
   * Set when the step runs inside a batch job (processors/provision.ts): `advance` hands the entry
   * to the next step in this process instead of recording the move and adding that step's job.
   */
  continueWith?: Continuation;
}

/** The queues a pipeline step hands an entry on to. */
export type NextStep = 'credential' | 'invitation' | DeliveryQueue;

/** Takes the next step of an entry in process (a batch); the step runs once the current one has returned. */
export type Continuation = <Q extends NextStep>(next: Q, payload: PayloadInput<Q>) => void;

/** A step as the worker binds it to its queue (made with `defineProcessor`). */
export type StepProcessor = JobProcessor<ProcessorDeps, JobContext>;

/** Lock TTL: long enough for a step's calls including time-outs; a recovered job retakes its own lock. */
export function lockTtlMs(config: Config): number {
  return Math.max(60_000, config.doorflow.timeoutMs * 4);
}

/** A job held by the auth pause looks again after this long (plus up to as much jitter), ms. */
const AUTH_PAUSE_RECHECK_MS = 2_000;

/** How long a step held by the auth pause (DoorFlow access paused fleet-wide) waits before looking again. */
export function authPauseDelayMs(): number {
  return AUTH_PAUSE_RECHECK_MS + Math.round(Math.random() * AUTH_PAUSE_RECHECK_MS);
}

/** A short random delay for lock contention (another job works on the same person). */
export function contentionDelayMs(): number {
  return 200 + Math.floor(Math.random() * 600);
}

/**
 * Encrypts an invitation code for the job data that carries it to delivery. Without
 * ENCRYPTION_KEY the job fails permanently: a code never travels in clear.
 */
export function encryptInvitationCode(config: Config, code: string): string {
  const key = config.encryptionKey;
  if (!key) {
    throw new ProvisionerError(
      'encryption_key_missing',
      'ENCRYPTION_KEY is required to carry invitation codes',
      {
        retryable: false,
      },
    );
  }
  return encryptSecret(key, code);
}
