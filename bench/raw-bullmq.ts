import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

/**
 * The floor we compare the pipeline's overhead with: a bare three-queue BullMQ chain (a → b → c,
 * each processor does nothing but add the next job) at concurrency 50, with the same retention
 * settings as ours, on the same Redis. Returns chains completed per second.
 */
export async function rawBullmqChain(
  redisUrl: string,
  jobs: number,
): Promise<{ jobs: number; seconds: number; perSecond: number }> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const prefix = '{raw}';
  const names = ['raw-a', 'raw-b', 'raw-c'] as const;
  const opts = { removeOnComplete: { count: 1_000 }, removeOnFail: { count: 5_000 }, attempts: 3 };
  const queues = names.map((n) => new Queue(n, { connection, prefix, defaultJobOptions: opts }));
  let done = 0;
  let finish: () => void = () => undefined;
  const allDone = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const workers = names.map(
    (name, i) =>
      new Worker(
        name,
        async (job) => {
          const next = queues[i + 1];
          if (next) await next.add(name, job.data, { jobId: `${job.id}-${i + 1}` });
          else if (++done === jobs) finish();
        },
        { connection, prefix, concurrency: 50 },
      ),
  );
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const started = performance.now();
  const first = queues[0]!;
  for (let i = 0; i < jobs; i += 500) {
    await first.addBulk(
      Array.from({ length: Math.min(500, jobs - i) }, (_, k) => ({
        name: 'raw',
        data: { key: `sid:E${i + k}`, runId: 'raw', first_name: 'A', last_name: 'B' },
        opts: { jobId: `j${i + k}` },
      })),
    );
  }
  await allDone;
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(workers.map((w) => w.close()));
  await Promise.all(queues.map((q) => q.obliterate({ force: true }).then(() => q.close())));
  await connection.quit();
  return { jobs, seconds, perSecond: jobs / seconds };
}
