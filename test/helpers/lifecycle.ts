import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, ManualClock, systemClock } from '../../src/lib/core/clock.ts';
import type { Env } from '../../src/lib/core/config.ts';
import type { CredentialRecord } from '../../src/lib/store/credentials.ts';
import { type Logger, silentLogger } from '../../src/lib/core/logger.ts';
import { buildPipeline } from '../../src/app/pipeline.ts';
import type { QueueName } from '../../src/lib/jobs/registry.ts';
import { startWorkers } from '../../src/processors/worker.ts';
import { lifecycleProcessors } from '../../src/processors/processor-list.ts';
import { scheduleLifecycleTick } from '../../src/processors/lifecycle/timers.ts';
import { buildServer, type RunningServer } from '../../src/server/app.ts';
import {
  doorflowWebhookModule,
  statusEventEnqueuer,
  WEBHOOK_PATH,
} from '../../src/server/doorflow-webhooks.ts';
import type { SimulatorOptions } from '../../src/simulator/index.ts';
import { type Harness, startHarness } from './pipeline.ts';
import { testRedisTarget } from './redis.ts';
import { type SmtpReceiver, startSmtpReceiver } from './smtp-receiver.ts';

const DOORFLOW_WEBHOOK_SECRET = 'sim-app-webhook-secret-c433cee7adf11c1bfaeda9b4ff252463';

/** A JSON-collecting HTTP endpoint (ALERT_WEBHOOK_URL). */
export interface Collector {
  url: string;
  bodies: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startCollector(): Promise<Collector> {
  const bodies: Record<string, unknown>[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    bodies,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface LifecycleHarness {
  h: Harness;
  smtp: SmtpReceiver;
  alerts: Collector;
  clock: Clock;
  /** Set when a manual clock drives the lifecycle. */
  manual: ManualClock | undefined;
  serve: RunningServer | undefined;
  prefix: string;
  /**
   * Runs the due timers through the real scheduler path: one tick job on `lifecycle-tick`, taken
   * by the workers like the job scheduler's; resolves with how many timers it fired.
   */
  runDue(): Promise<number>;
  /** How many timers of this queue wait in the index. */
  timers(queue: QueueName): Promise<number>;
  /** Moves every delayed job of these queues to waiting (jobs delayed by a retry or an auth pause). */
  promote(...queues: QueueName[]): Promise<void>;
  record(credentialId: string): Promise<CredentialRecord | undefined>;
  waitFor<T>(
    what: string,
    probe: () => Promise<T | undefined> | T | undefined,
    timeoutMs?: number,
  ): Promise<T>;
  close(): Promise<void>;
}

/**
 * The pipeline harness plus the lifecycle: an SMTP receiver, the lifecycle processors on a
 * (optionally manual) clock — on the system clock with the fleet's lifecycle scheduler ticking —, and with `webhooks` — `serve`'s receiver wired to the simulator.
 */
export async function startLifecycle(
  options: {
    env?: Env;
    sim?: SimulatorOptions;
    webhooks?: 'real' | 'seed' | false;
    manualClock?: boolean;
    /** Logger for workers, DoorFlow client and serve (a separate pipeline is built for it). */
    logger?: Logger;
  } = {},
): Promise<LifecycleHarness> {
  const smtp = await startSmtpReceiver();
  const alerts = await startCollector();
  const h = await startHarness({
    ...(options.sim ? { sim: options.sim } : {}),
    env: {
      SMTP_URL: smtp.url,
      MAIL_FROM: 'access@example.com',
      WEBHOOK_SECRET: DOORFLOW_WEBHOOK_SECRET,
      ALERT_WEBHOOK_URL: alerts.url,
      LIFECYCLE_TICK: '200ms',
      ...options.env,
    },
  });
  const manual = options.manualClock ? new ManualClock(Date.now()) : undefined;
  const clock = manual ?? systemClock;
  const prefix = h.config.queuePrefix;
  const logger = options.logger ?? silentLogger();
  const workerPipeline = options.logger
    ? buildPipeline(h.config, { redis: testRedisTarget(), logger: options.logger, clock })
    : h.pipeline;
  h.workers = await startWorkers(
    { ...workerPipeline.processorDeps(), clock },
    {
      connection: workerPipeline.workerConnection(),
      extraProcessors: lifecycleProcessors,
      lockDurationMs: 5_000,
    },
  );
  // On the system clock the fleet's job scheduler ticks as in production; on a manual clock the
  // test runs the due timers itself (runDue), so a tick never races its assertions.
  if (!manual) await scheduleLifecycleTick(h.pipeline.queues, h.config.lifecycle.tickMs);
  let serve: RunningServer | undefined;
  if (options.webhooks) {
    const module = doorflowWebhookModule({
      secret: DOORFLOW_WEBHOOK_SECRET,
      acceptSeedFormat: options.webhooks === 'seed',
      signatures: h.pipeline.stores.webhookSignatures,
      logger,
      enqueue: statusEventEnqueuer(h.pipeline.queues),
    });
    serve = await buildServer({ logger, modules: [module] }).start(0, '127.0.0.1');
    h.sim.configure({
      webhook: {
        url: `${serve.url}${WEBHOOK_PATH}`,
        secret: DOORFLOW_WEBHOOK_SECRET,
        format: options.webhooks,
        batchWindowMs: 20,
      },
    });
  }
  let ticks = 0;
  const lh: LifecycleHarness = {
    h,
    smtp,
    alerts,
    clock,
    manual,
    serve,
    prefix,
    async runDue() {
      const id = `test-tick-${++ticks}`;
      await h.pipeline.queues.add('lifecycle-tick', {}, { jobId: id });
      const queue = h.pipeline.queues.get('lifecycle-tick');
      const deadline = Date.now() + 30_000;
      for (;;) {
        const job = await queue.getJob(id);
        if (job?.finishedOn) {
          if (job.failedReason) throw new Error(`tick failed: ${job.failedReason}`);
          return (job.returnvalue as { fired: number }).fired;
        }
        if (Date.now() > deadline) throw new Error('timed out waiting for the lifecycle tick');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async timers(queue) {
      return (await h.pipeline.stores.timers.due()).filter((t) => t.queue === queue).length;
    },
    async promote(...queues) {
      for (const name of queues) await h.pipeline.queues.get(name).promoteJobs();
    },
    record: (id) => h.pipeline.stores.credentials.get(id),
    async waitFor(what, probe, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await probe();
        if (value !== undefined && value !== false) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      await serve?.close();
      await h.close();
      if (workerPipeline !== h.pipeline) await workerPipeline.close();
      await smtp.close();
      await alerts.close();
    },
  };
  return lh;
}
