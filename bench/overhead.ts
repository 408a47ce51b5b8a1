import { startChaosEnv } from '../chaos/harness.ts';
import { chaosRoster } from '../chaos/roster.ts';
import { startEmbeddedRedis } from '../src/lib/core/redis.ts';
import { type BenchOptions, type BenchResult, round } from './common.ts';
import { pipelineRun } from './pipeline-run.ts';
import { rawBullmqChain } from './raw-bullmq.ts';

/**
 * Benchmark 4, overhead ceiling: the simulator unlimited with zero latency and the budget out of
 * the way, so what remains is our own cost (Redis round trips, validation, encryption, run
 * records, audit, the webhook delivery). People/s end to end with one and two worker processes,
 * Redis memory per in-flight person (a person job waiting with its run entry), and a bare
 * three-queue BullMQ chain on the same machine for comparison.
 */
export async function overheadBench({ quick, log }: BenchOptions): Promise<BenchResult> {
  const started = Date.now();
  const people = quick ? 1_000 : 5_000;
  const unlimited = {
    budget: 10_000,
    sim: { faults: { latencyMs: 0 } },
    env: { DOORFLOW_MAX_IN_FLIGHT: '100', WORKER_CONCURRENCY: '50' },
    log,
  };
  log(`overhead: ${people} people, 1 worker process, unlimited simulator`);
  const one = await pipelineRun({ people, workers: 1, ...unlimited });
  log(`  ${one.peoplePerSecond} people/s`);
  log(`overhead: ${people} people, 2 worker processes`);
  const two = await pipelineRun({ people, workers: 2, ...unlimited });
  log(`  ${two.peoplePerSecond} people/s`);

  // Memory: enqueue with no worker running, so every person is in flight (waiting) at once.
  const parked = quick ? 2_000 : 10_000;
  const env = await startChaosEnv({ env: { QUEUE_PREFIX: '{bench}' } });
  let bytesPerPerson = 0;
  try {
    const used = async () =>
      Number(/used_memory:(\d+)/.exec(await env.pipeline.redis.info('memory'))?.[1] ?? 0);
    await env.intake(chaosRoster(10), 'warm-up');
    const before = await used();
    await env.intake(chaosRoster(parked, 100), 'parked');
    bytesPerPerson = ((await used()) - before) / parked;
    log(`overhead: ${round(bytesPerPerson, 0)} bytes of Redis per waiting person (${parked} parked)`);
  } finally {
    await env.close();
  }

  const redis = await startEmbeddedRedis({ appendOnly: true });
  let raw: Awaited<ReturnType<typeof rawBullmqChain>>;
  try {
    raw = await rawBullmqChain(redis.url, people);
  } finally {
    await redis.stop();
  }
  log(`overhead: bare BullMQ three-queue chain ${round(raw.perSecond, 1)} chains/s`);
  const best = Math.max(one.peoplePerSecond, two.peoplePerSecond);
  return {
    name: 'overhead',
    durationMs: Date.now() - started,
    figures: {
      oneWorker: one,
      twoWorkers: two,
      redisBytesPerWaitingPerson: round(bytesPerPerson, 0),
      rawBullmqChain: { ...raw, seconds: round(raw.seconds, 2), perSecond: round(raw.perSecond, 1) },
      oursOverRawBullmq: round(best / raw.perSecond, 3),
    },
    goals: [
      {
        goal: 'every person provisioned',
        value: one.provisioned + two.provisioned,
        met: one.provisioned + two.provisioned === 2 * people,
      },
    ],
  };
}
