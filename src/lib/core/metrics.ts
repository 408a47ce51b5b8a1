import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics. One {@link Registry} is built in the composition root (never prom-client's
 * global default) and passed down; modules record through the small typed functions of
 * {@link Metrics}, so a test that does not care passes {@link noopMetrics}.
 *
 * Values that live in Redis (jobs per queue and state, dead-letter size, credentials by status,
 * stuck provisioning) are read at scrape time through {@link ScrapeSources}, so every process
 * serving `/metrics` reports the fleet-wide figure rather than what it happened to see.
 */

/** Job outcome as BullMQ reports it to a worker. */
export type JobOutcome = 'completed' | 'failed';

/** Sizes of one sync plan (roster vs DoorFlow). */
export interface SyncPlanSizes {
  create: number;
  update: number;
  offboard: number;
  unchanged: number;
}

/** Functions read at scrape time; each may be absent (the gauge then stays empty). */
export interface ScrapeSources {
  /** Queue name → BullMQ state (`waiting`, `active`, `delayed`, `failed`, …) → count. */
  jobCounts?: () => Promise<Record<string, Record<string, number>>>;
  deadLetterSize?: () => Promise<number>;
  /** Credential status (`invited`, `active`, …) → count, from the credential status store. */
  credentialsByStatus?: () => Promise<Record<string, number>>;
  stuckProvisioning?: () => Promise<number>;
  /** Whether DoorFlow access is paused fleet-wide (the `auth:pause` key). */
  authPaused?: () => Promise<boolean>;
}

/** What other modules call. Every method is cheap and never throws. */
export interface Metrics {
  /** The registry to expose at `/metrics`; undefined for {@link noopMetrics}. */
  readonly registry: Registry | undefined;
  /** A job finished (after the processor returned or threw); duration in milliseconds. */
  job(queue: string, outcome: JobOutcome, durationMs: number, errorCode?: string): void;
  /** One HTTP request to DoorFlow. `status` is the HTTP status, or `'error'` for network errors. */
  doorflowRequest(route: string, status: number | 'error', durationMs?: number): void;
  /** Time spent waiting for the fleet-wide request budget before one request. */
  budgetWait(waitMs: number): void;
  /** One delivery attempt's outcome (`sent`, `failed`, `skipped`, …) by channel. */
  delivery(channel: string, outcome: string): void;
  /** A sync computed its plan. */
  syncPlan(sizes: SyncPlanSizes): void;
  /** A run finished (every entry done or dead). */
  runFinished(outcome: string): void;
  /** A change was written to the audit log. */
  auditRecorded(action: string): void;
  /** Sets (replaces) the functions read at scrape time, for this recorder's account. */
  setScrapeSources(sources: ScrapeSources): void;
  /**
   * The same registry, recording under another DoorFlow account (label `account`): a worker or
   * `serve` that serves several accounts hands one to each account's pipeline.
   */
  forAccount(account: string): Metrics;
}

/** Options for {@link createMetrics}. */
export interface MetricsOptions {
  /** Metric name prefix. Default `dfp_`. */
  prefix?: string;
  /** Also collect Node.js process metrics (CPU, memory, event loop). Default true. */
  defaultMetrics?: boolean;
  /** The account the returned recorder records for (label `account`). Default `default`. */
  account?: string;
}

/**
 * Turns a concrete DoorFlow path into a low-cardinality route label:
 * `/api/3/people/123/credentials/AbC9?x=1` → `/api/3/people/:id/credentials/:id`.
 */
export function routeLabel(pathOrUrl: string): string {
  let path = pathOrUrl;
  try {
    if (/^https?:\/\//i.test(pathOrUrl)) path = new URL(pathOrUrl).pathname;
  } catch {
    path = pathOrUrl;
  }
  path = path.split('?')[0] ?? path;
  return path
    .split('/')
    .map((segment, i, all) => {
      // `/api/3/…`: the API version is part of the route, not an id.
      if (/^\d+$/.test(segment)) return all[i - 1] === 'api' ? segment : ':id';
      // Credential ids are hashids: anything right after `credentials/` is an id.
      if (i > 0 && all[i - 1] === 'credentials' && segment !== '') return ':id';
      return segment;
    })
    .join('/');
}

const SECONDS = 1000;

/** Builds the real recorder over a fresh registry. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const prefix = options.prefix ?? 'dfp_';
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix });
  // Each account's scrape-time sources; every scrape-time gauge reports each account's figure.
  const sourcesByAccount = new Map<string, ScrapeSources>();

  const jobsProcessed = new Counter({
    name: `${prefix}jobs_processed_total`,
    help: 'Jobs finished by this process, by queue and outcome',
    labelNames: ['account', 'queue', 'outcome'] as const,
    registers,
  });
  const jobFailures = new Counter({
    name: `${prefix}job_failures_total`,
    help: 'Failed job attempts by queue and error code',
    labelNames: ['account', 'queue', 'code'] as const,
    registers,
  });
  const jobDuration = new Histogram({
    name: `${prefix}job_duration_seconds`,
    help: 'Time a processor spent on one job, by queue and outcome',
    labelNames: ['account', 'queue', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const doorflowRequests = new Counter({
    name: `${prefix}doorflow_requests_total`,
    help: 'HTTP requests to DoorFlow by route template and status',
    labelNames: ['account', 'route', 'status'] as const,
    registers,
  });
  const doorflowDuration = new Histogram({
    name: `${prefix}doorflow_request_duration_seconds`,
    help: 'DoorFlow request latency by route template',
    labelNames: ['account', 'route'] as const,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const rateLimited = new Counter({
    name: `${prefix}doorflow_rate_limited_total`,
    help: 'DoorFlow answers with status 429, by route template',
    labelNames: ['account', 'route'] as const,
    registers,
  });
  const budgetWait = new Histogram({
    name: `${prefix}budget_wait_seconds`,
    help: 'Time spent waiting for the fleet-wide DoorFlow request budget before a request',
    labelNames: ['account'] as const,
    buckets: [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const deliveries = new Counter({
    name: `${prefix}deliveries_total`,
    help: 'Invitation deliveries by channel and outcome',
    labelNames: ['account', 'channel', 'outcome'] as const,
    registers,
  });
  const syncPlan = new Gauge({
    name: `${prefix}sync_plan_size`,
    help: 'Size of the most recent sync plan by action',
    labelNames: ['account', 'action'] as const,
    registers,
  });
  const syncPlans = new Counter({
    name: `${prefix}sync_plans_total`,
    help: 'Sync plans computed by this process',
    labelNames: ['account'] as const,
    registers,
  });
  const runsFinished = new Counter({
    name: `${prefix}runs_finished_total`,
    help: 'Runs that finished, by outcome',
    labelNames: ['account', 'outcome'] as const,
    registers,
  });
  const audits = new Counter({
    name: `${prefix}audit_records_total`,
    help: 'Changes written to the audit log, by action',
    labelNames: ['account', 'action'] as const,
    registers,
  });

  // Scrape-time gauges: a failing source empties its gauge (NaN) rather than failing the scrape.
  new Gauge({
    name: `${prefix}jobs`,
    help: 'Jobs in each queue by state (BullMQ getJobCounts at scrape time)',
    labelNames: ['account', 'queue', 'state'] as const,
    registers,
    async collect() {
      this.reset();
      for (const [account, sources] of sourcesByAccount) {
        const counts = await sources.jobCounts?.().catch(() => undefined);
        for (const [queue, states] of Object.entries(counts ?? {})) {
          for (const [state, n] of Object.entries(states)) this.set({ account, queue, state }, n);
        }
      }
    },
  });
  /** A one-number gauge read at scrape time. */
  const scrapedNumber = (
    name: string,
    help: string,
    read: (sources: ScrapeSources) => Promise<number> | undefined,
  ) =>
    new Gauge({
      name: `${prefix}${name}`,
      help,
      labelNames: ['account'] as const,
      registers,
      async collect() {
        this.reset();
        for (const [account, sources] of sourcesByAccount) {
          // NaN says "unknown" when the source failed; 0 would claim there are none.
          const n = await read(sources)?.catch(() => Number.NaN);
          if (n !== undefined) this.set({ account }, n);
        }
      },
    });
  scrapedNumber('dead_letters', 'Entries in the dead-letter store', (sources) => sources.deadLetterSize?.());
  // The event loop's delay since the previous scrape: a request handler that blocks the loop
  // (reading a whole run, say) shows here as a p99 far above the 10 ms sampling resolution.
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  new Gauge({
    name: `${prefix}event_loop_delay_p99_seconds`,
    help: 'p99 of the event loop delay since the previous scrape (perf_hooks.monitorEventLoopDelay)',
    registers,
    collect() {
      this.set(loop.count > 0 ? loop.percentile(99) / 1e9 : 0);
      loop.reset();
    },
  });
  new Gauge({
    name: `${prefix}credentials`,
    help: 'Tracked HID credentials by status',
    labelNames: ['account', 'status'] as const,
    registers,
    async collect() {
      this.reset();
      for (const [account, sources] of sourcesByAccount) {
        const byStatus = await sources.credentialsByStatus?.().catch(() => undefined);
        for (const [status, n] of Object.entries(byStatus ?? {})) this.set({ account, status }, n);
      }
    },
  });
  scrapedNumber(
    'stuck_provisioning',
    'Credentials in provisioning longer than STUCK_PROVISIONING_AFTER',
    (sources) => sources.stuckProvisioning?.(),
  );
  scrapedNumber(
    'doorflow_auth_paused',
    '1 while DoorFlow access is paused fleet-wide (refresh token refused or client misconfigured), else 0',
    (sources) => sources.authPaused?.().then((paused) => (paused ? 1 : 0)),
  );

  const recorders = new Map<string, Metrics>();
  const recorderFor = (account: string): Metrics => {
    const known = recorders.get(account);
    if (known) return known;
    const recorder: Metrics = {
      registry,
      job(queue, outcome, durationMs, errorCode) {
        jobsProcessed.inc({ account, queue, outcome });
        jobDuration.observe({ account, queue, outcome }, Math.max(0, durationMs) / SECONDS);
        if (outcome === 'failed') jobFailures.inc({ account, queue, code: errorCode ?? 'unknown' });
      },
      doorflowRequest(route, status, durationMs) {
        const label = routeLabel(route);
        doorflowRequests.inc({ account, route: label, status: String(status) });
        if (status === 429) rateLimited.inc({ account, route: label });
        if (durationMs !== undefined)
          doorflowDuration.observe({ account, route: label }, Math.max(0, durationMs) / SECONDS);
      },
      budgetWait(waitMs) {
        budgetWait.observe({ account }, Math.max(0, waitMs) / SECONDS);
      },
      delivery(channel, outcome) {
        deliveries.inc({ account, channel, outcome });
      },
      syncPlan(sizes) {
        syncPlans.inc({ account });
        for (const [action, n] of Object.entries(sizes)) syncPlan.set({ account, action }, n);
      },
      runFinished(outcome) {
        runsFinished.inc({ account, outcome });
      },
      auditRecorded(action) {
        audits.inc({ account, action });
      },
      setScrapeSources(next) {
        sourcesByAccount.set(account, { ...next });
      },
      forAccount: recorderFor,
    };
    recorders.set(account, recorder);
    return recorder;
  };
  return recorderFor(options.account ?? 'default');
}

/** A recorder that records nothing, for tests and callers that do not care. */
export const noopMetrics: Metrics = Object.freeze({
  registry: undefined,
  job() {},
  doorflowRequest() {},
  budgetWait() {},
  delivery() {},
  syncPlan() {},
  runFinished() {},
  auditRecorded() {},
  setScrapeSources() {},
  forAccount: () => noopMetrics,
});

/** Anything with BullMQ's `getJobCounts` and a name (a `Queue`). */
export interface CountableQueue {
  readonly name: string;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
}

/** States reported for every queue. */
const JOB_STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'completed',
  'failed',
  'paused',
];

/** A {@link ScrapeSources.jobCounts} over BullMQ queues. */
export function queueJobCounts(
  queues: Iterable<CountableQueue>,
): () => Promise<Record<string, Record<string, number>>> {
  const list = [...queues];
  return async () => {
    const entries = await Promise.all(
      list.map(async (q) => [q.name, await q.getJobCounts(...JOB_STATES)] as const),
    );
    return Object.fromEntries(entries);
  };
}
