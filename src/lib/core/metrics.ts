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
  /** Sets (replaces) the functions read at scrape time. */
  setScrapeSources(sources: ScrapeSources): void;
}

/** Options for {@link createMetrics}. */
export interface MetricsOptions {
  /** Metric name prefix. Default `dfp_`. */
  prefix?: string;
  /** Also collect Node.js process metrics (CPU, memory, event loop). Default true. */
  defaultMetrics?: boolean;
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
  let sources: ScrapeSources = {};

  const jobsProcessed = new Counter({
    name: `${prefix}jobs_processed_total`,
    help: 'Jobs finished by this process, by queue and outcome',
    labelNames: ['queue', 'outcome'] as const,
    registers,
  });
  const jobFailures = new Counter({
    name: `${prefix}job_failures_total`,
    help: 'Failed job attempts by queue and error code',
    labelNames: ['queue', 'code'] as const,
    registers,
  });
  const jobDuration = new Histogram({
    name: `${prefix}job_duration_seconds`,
    help: 'Time a processor spent on one job, by queue and outcome',
    labelNames: ['queue', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const doorflowRequests = new Counter({
    name: `${prefix}doorflow_requests_total`,
    help: 'HTTP requests to DoorFlow by route template and status',
    labelNames: ['route', 'status'] as const,
    registers,
  });
  const doorflowDuration = new Histogram({
    name: `${prefix}doorflow_request_duration_seconds`,
    help: 'DoorFlow request latency by route template',
    labelNames: ['route'] as const,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const rateLimited = new Counter({
    name: `${prefix}doorflow_rate_limited_total`,
    help: 'DoorFlow answers with status 429, by route template',
    labelNames: ['route'] as const,
    registers,
  });
  const budgetWait = new Histogram({
    name: `${prefix}budget_wait_seconds`,
    help: 'Time spent waiting for the fleet-wide DoorFlow request budget before a request',
    buckets: [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const deliveries = new Counter({
    name: `${prefix}deliveries_total`,
    help: 'Invitation deliveries by channel and outcome',
    labelNames: ['channel', 'outcome'] as const,
    registers,
  });
  const syncPlan = new Gauge({
    name: `${prefix}sync_plan_size`,
    help: 'Size of the most recent sync plan by action',
    labelNames: ['action'] as const,
    registers,
  });
  const syncPlans = new Counter({
    name: `${prefix}sync_plans_total`,
    help: 'Sync plans computed by this process',
    registers,
  });
  const runsFinished = new Counter({
    name: `${prefix}runs_finished_total`,
    help: 'Runs that finished, by outcome',
    labelNames: ['outcome'] as const,
    registers,
  });
  const audits = new Counter({
    name: `${prefix}audit_records_total`,
    help: 'Changes written to the audit log, by action',
    labelNames: ['action'] as const,
    registers,
  });

  // Scrape-time gauges: a failing source empties its gauge (NaN) rather than failing the scrape.
  new Gauge({
    name: `${prefix}jobs`,
    help: 'Jobs in each queue by state (BullMQ getJobCounts at scrape time)',
    labelNames: ['queue', 'state'] as const,
    registers,
    async collect() {
      this.reset();
      const counts = await sources.jobCounts?.().catch(() => undefined);
      for (const [queue, states] of Object.entries(counts ?? {})) {
        for (const [state, n] of Object.entries(states)) this.set({ queue, state }, n);
      }
    },
  });
  /** A one-number gauge read at scrape time. */
  const scrapedNumber = (name: string, help: string, read: () => Promise<number> | undefined) =>
    new Gauge({
      name: `${prefix}${name}`,
      help,
      registers,
      async collect() {
        // NaN says "unknown" when the source failed; 0 would claim there are none.
        const n = await read()?.catch(() => Number.NaN);
        if (n !== undefined) this.set(n);
      },
    });
  scrapedNumber('dead_letters', 'Entries in the dead-letter store', () => sources.deadLetterSize?.());
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
    labelNames: ['status'] as const,
    registers,
    async collect() {
      this.reset();
      const byStatus = await sources.credentialsByStatus?.().catch(() => undefined);
      for (const [status, n] of Object.entries(byStatus ?? {})) this.set({ status }, n);
    },
  });
  scrapedNumber(
    'stuck_provisioning',
    'Credentials in provisioning longer than STUCK_PROVISIONING_AFTER',
    () => sources.stuckProvisioning?.(),
  );
  scrapedNumber(
    'doorflow_auth_paused',
    '1 while DoorFlow access is paused fleet-wide (refresh token refused or client misconfigured), else 0',
    () => sources.authPaused?.().then((paused) => (paused ? 1 : 0)),
  );

  return {
    registry,
    job(queue, outcome, durationMs, errorCode) {
      jobsProcessed.inc({ queue, outcome });
      jobDuration.observe({ queue, outcome }, Math.max(0, durationMs) / SECONDS);
      if (outcome === 'failed') jobFailures.inc({ queue, code: errorCode ?? 'unknown' });
    },
    doorflowRequest(route, status, durationMs) {
      const label = routeLabel(route);
      doorflowRequests.inc({ route: label, status: String(status) });
      if (status === 429) rateLimited.inc({ route: label });
      if (durationMs !== undefined)
        doorflowDuration.observe({ route: label }, Math.max(0, durationMs) / SECONDS);
    },
    budgetWait(waitMs) {
      budgetWait.observe(Math.max(0, waitMs) / SECONDS);
    },
    delivery(channel, outcome) {
      deliveries.inc({ channel, outcome });
    },
    syncPlan(sizes) {
      syncPlans.inc();
      for (const [action, n] of Object.entries(sizes)) syncPlan.set({ action }, n);
    },
    runFinished(outcome) {
      runsFinished.inc({ outcome });
    },
    auditRecorded(action) {
      audits.inc({ action });
    },
    setScrapeSources(next) {
      sources = { ...next };
    },
  };
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
