import type { Command } from 'commander';
import { ConfigError } from '../lib/core/errors.ts';
import { createMetrics } from '../lib/core/metrics.ts';
import { buildConfig, buildRuntime, servedAccounts } from '../app/runtime.ts';
import { type Config, forAccount } from '../lib/core/config.ts';
import { queueJobCounts, type ScrapeSources } from '../lib/core/metrics.ts';
import type { Pipeline } from '../app/pipeline.ts';
import { QUEUE_NAMES } from '../lib/jobs/registry.ts';
import { buildServer } from '../server/app.ts';
import { doorflowWebhookModule, statusEventEnqueuer, webhookPaths } from '../server/doorflow-webhooks.ts';
import { opsHttpModule } from '../server/ops.ts';
import { lazyPlanActions, planActions } from '../producers/sync/plan-actions.ts';
import { syncDepsOf } from '../processors/sync.ts';
import { SCIM_PATH } from '../server/scim.ts';
import { openPipeline } from '../app/pipeline.ts';
import { scimModule } from '../app/scim.ts';
import { installShutdown } from './shutdown.ts';

/**
 * `serve`: the HTTP server — DoorFlow webhook receiver (`POST /webhooks/doorflow`), SCIM 2.0
 * inbound (`/scim/v2`, with SCIM_TOKEN), health, metrics and the admin pages. Webhook events are only verified and enqueued here; `worker`
 * processes them. Refuses to start without WEBHOOK_SECRET (an unverifiable receiver would let
 * anyone move credential states).
 */
interface ServeFlags {
  port?: string;
  host?: string;
  insecureLocal?: boolean;
  readOnlyQueues?: boolean;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Serve the DoorFlow webhook receiver, health, metrics and admin pages')
    .option('--port <port>', 'TCP port (default SERVE_PORT, 8080)')
    .option('--host <host>', 'bind address (default SERVE_HOST, 127.0.0.1)')
    .option('--insecure-local', 'admin pages without authentication, bound to 127.0.0.1 only')
    .option('--read-only-queues', 'the queues dashboard (/admin/queues) without retry, clean or remove')
    .action(async (options: ServeFlags) => {
      // Without --account: every account's webhooks; the admin pages are the selected account's.
      const config = buildConfig({}, { all: true });
      const served = servedAccounts(config);
      requireWebhookSecrets(config, served);
      const port = options.port === undefined ? config.admin.port : Number(options.port);
      if (!(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
        throw new Error('--port expects a whole number from 0 to 65535');
      }
      const runtime = buildRuntime(config);
      try {
        const metrics = createMetrics();
        // Reconnects for as long as Redis is away: serve must come back by itself after an outage.
        const pipeline = openPipeline(runtime, { role: 'service', metrics });
        const ops = opsHttpModule({
          config,
          redis: pipeline.redis,
          queues: pipeline.queues,
          runs: pipeline.runs,
          deadLetters: pipeline.deadLetters,
          audit: pipeline.audit,
          workers: pipeline.stores.workers,
          sessions: pipeline.stores.adminSessions,
          plans: lazyPlanActions(() => planActions(syncDepsOf(pipeline.processorDeps()))),
          metrics,
          logger: runtime.logger,
          insecureLocal: options.insecureLocal ?? false,
          readOnlyQueues: options.readOnlyQueues ?? false,
          scrapeSources: accountScrapeSources(pipeline),
        });
        const webhooks = served.map((account) => {
          const own =
            account === config.account
              ? pipeline
              : openPipeline(runtime, { role: 'service', metrics }, forAccount(config, account));
          // The other accounts' figures on the same /metrics (the ops module sets the selected one's).
          if (own !== pipeline) {
            own.metrics.setScrapeSources({
              ...accountScrapeSources(own),
              jobCounts: queueJobCounts(QUEUE_NAMES.map((name) => own.queues.get(name))),
              deadLetterSize: () => own.deadLetters.count(),
            });
          }
          return doorflowWebhookModule({
            secret: own.config.webhook.secret ?? '',
            acceptSeedFormat: own.config.webhook.acceptSeedFormat,
            signatures: own.stores.webhookSignatures,
            logger: runtime.logger.child({ account }),
            enqueue: statusEventEnqueuer(own.queues),
            paths: webhookPaths(account),
          });
        });
        const host = options.insecureLocal ? ops.access.host : (options.host ?? config.admin.host);
        // SCIM inbound only with SCIM_TOKEN: without it /scim/v2 is a plain 404.
        const scim = scimModule(pipeline);
        const modules = scim ? [...webhooks, scim, ops] : [...webhooks, ops];
        const server = await buildServer({ logger: runtime.logger, modules }).start(port, host);
        runtime.onClose(() => server.close());
        const hooks = served.map((account) => `${server.url}${webhookPaths(account)[0]}`);
        runtime.logger.info({ url: server.url, webhooks: hooks, admin: config.account }, 'serving');
        const scimNote = scim ? `, SCIM: ${server.url}${SCIM_PATH}` : '';
        const adminNote = config.accounts.length > 1 ? `; admin pages: account ${config.account}` : '';
        console.log(
          `serving on ${server.url} (DoorFlow webhooks: ${hooks.join(', ')}${scimNote}${adminNote})`,
        );
      } catch (err) {
        await runtime.close();
        throw err;
      }
      installShutdown(runtime.logger, () => runtime.close());
      await new Promise<void>((resolve) => runtime.onClose(() => resolve()));
    });
}

/** Every served account verifies its webhooks with its own secret: serve refuses to start without one. */
function requireWebhookSecrets(config: Config, served: readonly string[]): void {
  const missing = served.filter((name) => !forAccount(config, name).webhook.secret);
  if (missing.length === 0) return;
  throw new ConfigError(
    missing.map((name) =>
      config.accountsFile
        ? {
            variable: 'DOORFLOW_ACCOUNTS_FILE',
            expected: `account ${name}: webhookSecret (or webhookSecretEnv) is required by serve, to verify its DoorFlow webhooks`,
          }
        : {
            variable: 'WEBHOOK_SECRET',
            expected: "required by serve: the DoorFlow app's webhook secret, to verify webhook signatures",
          },
    ),
  );
}

/** What `/metrics` reads at scrape time for one account, besides its queues and dead letters. */
function accountScrapeSources(pipeline: Pipeline): ScrapeSources {
  const { credentials } = pipeline.stores;
  const stuckAfterMs = pipeline.config.lifecycle.stuckProvisioningAfterMs;
  return {
    credentialsByStatus: () => credentials.countByStatus(),
    stuckProvisioning: async () => (await credentials.stuckProvisioningIds(Date.now(), stuckAfterMs)).length,
    // The fleet-wide auth pause (auth:pause) is on serve's /metrics too, not only the worker's.
    authPaused: async () => (await pipeline.doorflow().authPause()) !== undefined,
  };
}
