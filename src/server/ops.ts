import type { Express } from 'express';
import type { HttpModule } from './app.ts';
import type { RedisConnection } from '../lib/core/redis.ts';
import type { Config } from '../lib/core/config.ts';
import type { DeadLetterStore } from '../lib/store/dead-letters.ts';
import type { Logger } from '../lib/core/logger.ts';
import type { AuditLog } from '../lib/store/audit-log.ts';
import { type Metrics, queueJobCounts, type ScrapeSources } from '../lib/core/metrics.ts';
import { QUEUE_NAMES, type Queues } from '../lib/jobs/registry.ts';
import { RunPages } from '../lib/store/run-pages.ts';
import type { RunStore } from '../lib/store/runs.ts';
import type { WorkerStore } from '../lib/store/workers.ts';
import { AdminSessionStore } from '../lib/store/admin-sessions.ts';
import { RedisKeys } from '../lib/store/keys.ts';
import {
  type AdminAccess,
  type AdminAuth,
  createAdminAuth,
  hostGuard,
  LOOPBACK_HOSTS,
  resolveAdminAccess,
} from './admin-auth.ts';
import { mountQueuesDashboard } from './admin-queues.ts';
import { adminLiveRouter } from './admin-live.ts';
import { runControlRouter } from './admin-run-control.ts';
import { adminRunsRouter } from './admin-runs.ts';
import { adminPlansRouter } from './admin-plans.ts';
import type { PlanActions } from '../producers/sync/plan-actions.ts';
import { PipelinePauseStore } from '../lib/store/pipeline-pause.ts';
import { RunCancelStore } from '../lib/store/run-cancel.ts';
import { healthRouter } from './health.ts';
import { metricsRouter } from './metrics-route.ts';

/**
 * Mounts the ops surface on the `serve` app in one call: `/healthz`, `/readyz`, `/metrics`,
 * `/login` + `/logout`, and everything under `/admin` behind the admin auth (Bull Board at
 * `/admin/queues`, runs and dead letters at `/admin/runs`). Also points the metrics' scrape-time
 * gauges at the queues and the dead-letter store.
 */

export interface OpsDeps {
  config: Config;
  /** A plain (non-blocking) connection for health checks and stores. */
  redis: RedisConnection;
  queues: Queues;
  runs: RunStore;
  /** Paged reads of runs' entries. Default: over `redis` under the config's queue prefix. */
  runPages?: RunPages;
  deadLetters: DeadLetterStore;
  /** Worker heartbeats, for `/readyz`. */
  workers: WorkerStore;
  metrics: Metrics;
  logger: Logger;
  /** The audit log, for actions taken on `/admin` (with the session that took them). */
  audit?: AuditLog;
  /** From `serve --insecure-local`: no credentials needed, but bound to 127.0.0.1. */
  insecureLocal?: boolean;
  /** Bull Board without retry/clean. Default false. */
  readOnlyQueues?: boolean;
  /** `/readyz` requires a heartbeating worker. Default true. */
  requireWorkers?: boolean;
  /** Extra scrape-time sources (credentials by status, stuck provisioning) from other areas. */
  scrapeSources?: Omit<ScrapeSources, 'jobCounts' | 'deadLetterSize'>;
  /** Set the session cookie's Secure flag. Default: SERVE_PUBLIC_URL is https. */
  secureCookie?: boolean;
  /** Admin browser sessions. Default: a store over `redis` under the config's queue prefix. */
  sessions?: AdminSessionStore;
  /** Quarantined sync plans for `/admin/plans`; absent: no plans page. */
  plans?: PlanActions;
}

/**
 * The host names the ops routes answer to: SERVE_ALLOWED_HOSTS, else the host of
 * SERVE_PUBLIC_URL (plus loopback, for probes on the machine), else loopback only.
 */
function allowedHosts(admin: Config['admin']): string[] {
  if (admin.allowedHosts.length > 0) return [...admin.allowedHosts];
  if (admin.publicUrl) return [new URL(admin.publicUrl).hostname, ...LOOPBACK_HOSTS];
  return [...LOOPBACK_HOSTS];
}

export interface MountedOps {
  access: AdminAccess;
  auth: AdminAuth;
}

/**
 * Resolves admin access first, so a missing ADMIN_TOKEN fails start-up (ConfigError) before any
 * route exists. Bind the server to `access.host`.
 */
export function mountOps(app: Express, deps: OpsDeps): MountedOps {
  const access = resolveAdminAccess(deps.config.admin, { insecureLocal: deps.insecureLocal ?? false });
  const { admin } = deps.config;
  const keys = new RedisKeys(deps.config.queuePrefix);
  const auth = createAdminAuth(admin, access, {
    secureCookie: deps.secureCookie ?? admin.publicUrl?.startsWith('https:') ?? false,
    sessions: deps.sessions ?? new AdminSessionStore(deps.redis, keys),
  });
  const queues = QUEUE_NAMES.map((name) => deps.queues.get(name));
  const pages = deps.runPages ?? new RunPages(deps.redis, keys);

  deps.metrics.setScrapeSources({
    ...deps.scrapeSources,
    jobCounts: queueJobCounts(queues),
    deadLetterSize: () => deps.deadLetters.count(),
  });

  app.use(
    healthRouter({
      redis: deps.redis,
      workers: deps.workers,
      requireWorkers: deps.requireWorkers ?? true,
    }),
  );
  if (deps.metrics.registry) app.use(metricsRouter(deps.metrics.registry, { token: admin.metricsToken }));
  // A DNS-rebinding page reaches us under the attacker's host name: /login, /logout and /admin
  // answer only to ours (--insecure-local: loopback names only, whatever SERVE_ALLOWED_HOSTS says).
  // Health and metrics stay reachable by IP for probes and scrapers.
  const guard = hostGuard(access.mode === 'open' ? LOOPBACK_HOSTS : allowedHosts(admin));
  app.use(['/login', '/logout', '/admin'], guard);
  app.use(auth.loginRouter());
  // One guard for the whole subtree: unknown /admin paths answer 401 too, not 404.
  app.use('/admin', (req, res, next) => auth.middleware(req, res, next));
  mountQueuesDashboard(app, (_req, _res, next) => next(), { queues, readOnly: deps.readOnlyQueues ?? false });
  const control = {
    runs: deps.runs,
    runCancels: new RunCancelStore(deps.redis, keys),
    pipelinePause: new PipelinePauseStore(deps.redis, keys),
    queues: deps.queues,
    auth,
    logger: deps.logger,
    ...(deps.audit ? { audit: deps.audit } : {}),
  };
  app.use(runControlRouter(control));
  app.use(
    adminRunsRouter({
      runs: deps.runs,
      pages,
      deadLetters: deps.deadLetters,
      queues: deps.queues,
      auth,
      logger: deps.logger,
      ...(deps.audit ? { audit: deps.audit } : {}),
      control,
    }),
  );
  app.use(
    adminLiveRouter({
      redis: deps.redis,
      keys,
      runs: deps.runs,
      pages,
      budgetPerSecond: deps.config.doorflow.rateLimitPerSec,
    }),
  );
  if (deps.plans) app.use(adminPlansRouter({ plans: deps.plans, auth, logger: deps.logger }));
  if (access.mode === 'open') {
    deps.logger.warn('admin pages are open without authentication (--insecure-local): bound to 127.0.0.1');
  }
  return { access, auth };
}

/**
 * The ops surface as an {@link HttpModule} for `buildServer`. Admin access is resolved here, at
 * construction, so `serve` fails before listening when credentials are missing; bind the server
 * to `module.access.host` (127.0.0.1 under --insecure-local).
 */
export function opsHttpModule(deps: OpsDeps): HttpModule & { readonly access: AdminAccess } {
  const access = resolveAdminAccess(deps.config.admin, { insecureLocal: deps.insecureLocal ?? false });
  return {
    name: 'ops',
    access,
    mount(app) {
      mountOps(app, deps);
    },
  };
}
