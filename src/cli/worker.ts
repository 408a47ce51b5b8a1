import type { Command } from 'commander';
import { checkEvictionPolicy } from '../lib/core/redis.ts';
import { QUEUE_NAMES, type QueueName } from '../lib/jobs/registry.ts';
import { buildConfig, buildRuntime, type Runtime, servedAccounts } from '../app/runtime.ts';
import { type Config, forAccount } from '../lib/core/config.ts';
import { startWorkers } from '../processors/worker.ts';
import { syncProcessor } from '../processors/sync.ts';
import { janitorProcessor, scheduleJanitor } from '../processors/janitor.ts';
import { scheduleLifecycleTick } from '../processors/lifecycle/timers.ts';
import { createMetrics, type Metrics } from '../lib/core/metrics.ts';
import { openPipeline } from '../app/pipeline.ts';
import { startWorkerOps } from './worker-ops.ts';
import { installShutdown } from './shutdown.ts';

/**
 * `worker`: runs the pipeline's processors. Any number of worker processes may share one Redis:
 * they split the jobs and the DoorFlow request budget. SIGTERM/SIGINT lets active jobs finish.
 */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('Process the provisioning queues (run as many as you like against one Redis)')
    .option('--queues <names>', `comma-separated subset of: ${QUEUE_NAMES.join(', ')}`)
    .option('--concurrency <n>', 'jobs per queue in this process (default WORKER_CONCURRENCY)')
    .option('--metrics-port <port>', "serve this worker's Prometheus /metrics on SERVE_HOST:port")
    .action(async (options: { queues?: string; concurrency?: string; metricsPort?: string }) => {
      // Without --account a worker serves every account of DOORFLOW_ACCOUNTS_FILE.
      const config = buildConfig({}, { all: true });
      const runtime = buildRuntime(config);
      const queues = options.queues?.split(',').map((q) => q.trim()) as QueueName[] | undefined;
      const unknown = queues?.filter((q) => !QUEUE_NAMES.includes(q));
      if (unknown && unknown.length > 0)
        throw new Error(`unknown ${unknown.length === 1 ? 'queue' : 'queues'}: ${unknown.join(', ')}`);
      const concurrency = options.concurrency ? Number(options.concurrency) : undefined;
      if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency > 0)) {
        throw new Error('--concurrency expects a positive whole number');
      }
      const accounts = servedAccounts(config);
      const metrics = createMetrics({ account: config.account });
      const setup = { queues, concurrency, metrics, several: accounts.length > 1 };
      let started = 0;
      for (const [index, account] of accounts.entries()) {
        const ok = await startAccount(runtime, forAccount(config, account), setup, {
          ...(index === 0 && options.metricsPort ? { metricsPort: Number(options.metricsPort) } : {}),
        });
        if (ok) started += 1;
      }
      if (started === 0) {
        await runtime.close();
        throw new Error('no account could be started');
      }
      installShutdown(runtime.logger, () => runtime.close());
      runtime.logger.info({ pid: process.pid, accounts }, 'worker ready');
      // Stay alive until a signal: the workers' connections keep the event loop running.
      await new Promise<void>((resolve) => runtime.onClose(() => resolve()));
    });
}

interface AccountSetup {
  queues: QueueName[] | undefined;
  concurrency: number | undefined;
  metrics: Metrics;
  /** Several accounts in this process: one that cannot start is logged, not fatal. */
  several: boolean;
}

/**
 * One account's workers: its own queues, budget, token store and schedules, so its failures
 * (a revoked grant, a 429 storm) stay its own. False when it could not start (several accounts).
 */
async function startAccount(
  runtime: Runtime,
  config: Config,
  setup: AccountSetup,
  ops: { metricsPort?: number },
): Promise<boolean> {
  const { queues, concurrency } = setup;
  const pipeline = openPipeline(runtime, { role: 'worker', metrics: setup.metrics }, config);
  await checkEvictionPolicy(pipeline.redis, runtime.logger);
  const deps = pipeline.processorDeps();
  // An account where the HID type cannot be told apart refuses here (exit 3), not per job.
  try {
    await deps.hidCredentialTypeId();
  } catch (err) {
    if (setup.several) {
      runtime.logger.error({ err, account: config.account }, 'account not started');
      return false;
    }
    await runtime.close();
    throw err;
  }
  const workers = await startWorkers(deps, {
    connection: pipeline.workerConnection(),
    // Scheduled roster syncs (`sync --schedule`) and the janitor's ticks run here too.
    extraProcessors: [syncProcessor, janitorProcessor],
    ...(queues ? { queues } : {}),
    ...(concurrency ? { concurrency } : {}),
  });
  runtime.onClose(() => workers.close());
  // The fleet's one janitor schedule (idempotent: every worker upserts the same one).
  if (!queues || queues.includes('janitor')) {
    await scheduleJanitor(pipeline.queues, config.retention.janitorEveryMs);
  }
  // The fleet's one lifecycle scheduler: fires the reminders, expiries and polls due.
  if (!queues || queues.includes('lifecycle-tick')) {
    await scheduleLifecycleTick(pipeline.queues, config.lifecycle.tickMs);
  }
  await startWorkerOps(runtime, pipeline, ops);
  return true;
}
