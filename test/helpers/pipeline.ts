import { randomBytes } from 'node:crypto';
import { buildPipeline, type Pipeline } from '../../src/app/pipeline.ts';
import { type DeliveryReceiver, startDeliveryReceiver } from '../../src/cli/demo-receiver.ts';
import { type Config, type Env, loadConfig } from '../../src/lib/core/config.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { PAUSABLE_QUEUES } from '../../src/lib/jobs/pipeline-queues.ts';
import type { RunRecord } from '../../src/lib/store/runs.ts';
import { type RunningWorkers, startWorkers, type StartWorkersOptions } from '../../src/processors/worker.ts';
import { type RunningSimulator, type SimulatorOptions, startSimulator } from '../../src/simulator/index.ts';
import { testRedisEnv, testRedisTarget, uniquePrefix } from './redis.ts';

/**
 * A whole pipeline for an integration test: the simulator over HTTP, a signature-checking delivery
 * receiver, a unique Redis prefix, the composed pipeline and (optionally) in-process workers.
 */
export interface Harness {
  sim: RunningSimulator;
  receiver: DeliveryReceiver;
  config: Config;
  env: Env;
  pipeline: Pipeline;
  workers: RunningWorkers | undefined;
  startWorkers(options?: Partial<StartWorkersOptions>): Promise<RunningWorkers>;
  waitForRun(runId: string, timeoutMs?: number): Promise<RunRecord>;
  close(): Promise<void>;
}

const WEBHOOK_SECRET = 'test-delivery-secret-d6710874d5549aa40c3d670e29ab8504';

export async function startHarness(
  options: { sim?: SimulatorOptions; env?: Env; receiverFailureRate?: number; redisUrl?: string } = {},
): Promise<Harness> {
  const redis = options.redisUrl ?? testRedisTarget();
  const sim = await startSimulator({ seed: 7, ...options.sim });
  const receiver = await startDeliveryReceiver({
    secret: WEBHOOK_SECRET,
    ...(options.receiverFailureRate ? { failureRate: options.receiverFailureRate } : {}),
  });
  const env: Env = {
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : testRedisEnv()),
    QUEUE_PREFIX: uniquePrefix('pipe'),
    LOG_LEVEL: 'silent',
    DOORFLOW_BASE_URL: sim.url,
    DOORFLOW_ACCESS_TOKEN: sim.accessToken,
    DOORFLOW_RATE_LIMIT: '1000',
    DOORFLOW_MAX_IN_FLIGHT: '32',
    DOORFLOW_TIMEOUT_MS: '5000',
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    DELIVERY_DEFAULT: 'webhook',
    DELIVERY_WEBHOOK_URL: receiver.url,
    DELIVERY_WEBHOOK_SECRET: WEBHOOK_SECRET,
    JOB_ATTEMPTS: '12',
    JOB_BACKOFF_MS: '100',
    JOB_BACKOFF_MAX_MS: '1000',
    WORKER_CONCURRENCY: '16',
    INVITATION_WAIT_MAX: '10s',
    ...options.env,
  };
  const config = loadConfig(env);
  const pipeline = buildPipeline(config, { redis, logger: silentLogger() });
  const activeJobs = async () => {
    const counts = await Promise.all(PAUSABLE_QUEUES.map((q) => pipeline.queues.get(q).getActiveCount()));
    return counts.reduce((a, b) => a + b, 0);
  };
  const harness: Harness = {
    sim,
    receiver,
    config,
    env,
    pipeline,
    workers: undefined,
    async startWorkers(extra = {}) {
      const workers = await startWorkers(pipeline.processorDeps(), {
        connection: pipeline.workerConnection(),
        lockDurationMs: 5_000,
        ...extra,
      });
      harness.workers = workers;
      return workers;
    },
    async waitForRun(runId, timeoutMs = 55_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const run = await pipeline.runs.get(runId);
        // The last step ends the entry just before its handler returns: let BullMQ mark it completed.
        if (run?.finishedAt !== undefined && (await activeJobs()) === 0) return run;
        if (Date.now() > deadline) {
          throw new Error(`run ${runId} did not finish in ${timeoutMs} ms: ${JSON.stringify(run)}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async close() {
      await harness.workers?.close();
      await pipeline.close();
      await receiver.close();
      await sim.close();
    },
  };
  return harness;
}

/** `n` valid roster rows with unique system ids and emails. */
export function roster(n: number, start = 1): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => {
    const id = start + i;
    return {
      system_id: `E${String(id).padStart(5, '0')}`,
      first_name: `First${id}`,
      last_name: `Last${id}`,
      email: `person${id}@example.test`,
      line: i + 2,
    };
  });
}
