/**
 * Backpressure benchmark: a 200,000-row import with `--window 20000` into a real redis-server,
 * sampling Redis `used_memory` and the run's queued jobs every 100 ms while a drain worker settles
 * entries. The drain is a stub BullMQ worker on the `person` queue that marks each entry provisioned
 * at a fixed rate (no DoorFlow): on this shared 2-core box the real pipeline would take hours for
 * 200,000 people, and the DoorFlow budget — not the queue — sets that pace anyway. What is measured
 * is the producer side: intake never parks more than the window in Redis, and keeps feeding.
 *
 *   npx tsx bench/import-window.ts [rows=200000] [window=20000] [drainPerSec=4000]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'bullmq';
import { buildPipeline } from '../src/app/pipeline.ts';
import { loadConfig } from '../src/lib/core/config.ts';
import { silentLogger } from '../src/lib/core/logger.ts';
import { createRedis, startEmbeddedRedis } from '../src/lib/core/redis.ts';
import { importCsv } from '../src/producers/csv-import.ts';

const rows = Number(process.argv[2] ?? 200_000);
const window = Number(process.argv[3] ?? 20_000);
const drainPerSec = Number(process.argv[4] ?? 4_000);

const redisServer = await startEmbeddedRedis();
const dir = await mkdtemp(join(tmpdir(), 'dfp-bench-window-'));
const config = loadConfig({
  REDIS_URL: redisServer.url,
  QUEUE_PREFIX: '{bw}',
  LOG_LEVEL: 'silent',
  DELIVERY_DEFAULT: 'doorflow',
});
const pipeline = buildPipeline(config, { redis: redisServer.url, logger: silentLogger() });
const workerConnection = createRedis(redisServer.url, 'worker');
let drain: Worker | undefined;
try {
  const file = join(dir, 'roster.csv');
  const lines = ['system_id,first_name,last_name,email'];
  for (let i = 0; i < rows; i += 1) lines.push(`B${i},First${i},Last${i},b${i}@example.test`);
  await writeFile(file, `${lines.join('\n')}\n`);
  const usedMemory = async () =>
    Number(/used_memory:(\d+)/.exec(await pipeline.redis.info('memory'))?.[1] ?? 0);
  const baseline = await usedMemory();

  // Stub drain: settle each person job at a bounded rate (the DoorFlow budget's role).
  drain = new Worker(
    'person',
    async (job) => {
      const data = job.data as { runId: string; key: string };
      await pipeline.runs.move(data.runId, data.key, 'provisioned');
    },
    {
      connection: workerConnection,
      prefix: config.queuePrefix,
      concurrency: 50,
      limiter: { max: drainPerSec, duration: 1000 },
    },
  );

  let maxQueued = 0;
  let maxUsed = 0;
  let samples = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const counts = await pipeline.queues
        .get('person')
        .getJobCounts('waiting', 'delayed', 'prioritized', 'active');
      maxQueued = Math.max(
        maxQueued,
        Object.values(counts).reduce((a, b) => a + b, 0),
      );
      maxUsed = Math.max(maxUsed, await usedMemory());
      samples += 1;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const t0 = performance.now();
  const summary = await importCsv(pipeline.intakeDeps(false), {
    file,
    delivery: 'doorflow',
    window,
    prefetch: false,
  });
  const intakeSeconds = (performance.now() - t0) / 1000;
  const runId = summary.run?.runId ?? '';
  for (;;) {
    const run = await pipeline.runs.get(runId);
    if (run?.finishedAt !== undefined) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  done = true;
  await sampler;
  const run = await pipeline.runs.get(runId);
  console.log(
    JSON.stringify(
      {
        rows,
        window,
        drainPerSec,
        accepted: summary.run?.accepted,
        provisioned: run?.counts.provisioned,
        intakeSeconds: Math.round(intakeSeconds * 10) / 10,
        maxQueuedPersonJobs: maxQueued,
        usedMemoryBaselineMB: Math.round(baseline / 1e5) / 10,
        usedMemoryPeakMB: Math.round(maxUsed / 1e5) / 10,
        usedMemoryPeakAboveBaselineMB: Math.round((maxUsed - baseline) / 1e5) / 10,
        usedMemoryAfterMB: Math.round((await usedMemory()) / 1e5) / 10,
        samples,
      },
      null,
      2,
    ),
  );
} finally {
  await drain?.close();
  await pipeline.close();
  workerConnection.disconnect();
  await redisServer.stop();
  await rm(dir, { recursive: true, force: true });
}
