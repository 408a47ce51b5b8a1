import type { Server } from 'node:http';
import express from 'express';
import { startHeartbeat } from '../lib/core/heartbeat.ts';
import { createRunNotifier } from '../lib/ops/notify.ts';
import { startRunWatcher } from '../lib/ops/run-watcher.ts';
import type { Runtime } from '../app/runtime.ts';
import { metricsRouter } from '../server/metrics-route.ts';
import type { Pipeline } from '../app/pipeline.ts';

/**
 * The ops side of a `worker` process: a heartbeat for `/readyz`, the run watcher (run-finished
 * metric and NOTIFY_WEBHOOK_URL summary, once per finish for the fleet) and, with
 * `--metrics-port`, this process's own `/metrics` (job durations, DoorFlow requests and budget
 * waits happen in workers, so each worker exposes them). Everything closes with the runtime.
 */
export async function startWorkerOps(
  runtime: Runtime,
  pipeline: Pipeline,
  options: { metricsPort?: number } = {},
): Promise<void> {
  const { config, logger } = runtime;
  const heartbeat = await startHeartbeat({ workers: pipeline.stores.workers, logger });
  runtime.onClose(() => heartbeat.stop());

  const watcher = startRunWatcher({
    notices: pipeline.stores.runNotices,
    runs: pipeline.runs,
    notifier: createRunNotifier({
      url: config.lifecycle.notifyWebhookUrl,
      notices: pipeline.stores.runNotices,
      logger,
    }),
    metrics: pipeline.metrics,
    logger,
  });
  runtime.onClose(() => watcher.stop());

  pipeline.metrics.setScrapeSources({
    authPaused: async () => (await pipeline.doorflow().authPause()) !== undefined,
  });
  const registry = pipeline.metrics.registry;
  if (options.metricsPort !== undefined && registry) {
    const app = express();
    app.disable('x-powered-by');
    app.use(metricsRouter(registry, { token: config.admin.metricsToken }));
    const port = options.metricsPort;
    const server: Server = await new Promise((resolve, reject) => {
      const s = app.listen(port, config.admin.host, (err?: Error) => (err ? reject(err) : resolve(s)));
    });
    runtime.onClose(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const address = server.address();
    logger.info(
      { port: typeof address === 'object' && address ? address.port : undefined },
      'worker metrics served',
    );
  }
}
