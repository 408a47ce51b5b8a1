import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/lib/core/redis.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { intake } from '../../src/producers/intake.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

/**
 * A Redis restarted from its AOF (`appendfsync everysec`) may have lost the last second of writes:
 * a person's mapping, pending marker and index entry among them. A person job that runs again then
 * must not trust the run's people index (built before the restart) to say the person is absent: with
 * the email withheld from DoorFlow there is no 422 to catch a second create.
 */
describe('pipeline: a person job re-run after Redis lost its last writes', () => {
  let h: Harness | undefined;
  let redis: EmbeddedRedis | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    await redis?.stop();
    redis = undefined;
  });

  it('looks the person up in DoorFlow instead of trusting an index from before the restart', async () => {
    redis = await startEmbeddedRedis({ appendOnly: true, keepDir: true });
    // One person job per entry (JOBS_BATCH_SIZE 1): the test reruns E00002's person step alone.
    h = await startHarness({ redisUrl: redis.url, env: { JOBS_BATCH_SIZE: '1' } });
    await h.startWorkers();
    const run = await intake(h.pipeline.intakeDeps(), { source: 'restart', delivery: 'webhook' }, roster(3));
    expect((await h.waitForRun(run.runId)).counts.provisioned).toBe(3);
    expect(h.sim.people()).toHaveLength(3);
    await h.workers?.close();
    h.workers = undefined;

    // What the lost second held for E00002: its mapping, pending marker and index entries.
    const personQueue = h.pipeline.queues.get('person');
    const [job] = (await personQueue.getJobs(['completed'])).filter(
      (j) => (j.data as { entry: { system_id?: string } }).entry.system_id === 'E00002',
    );
    if (!job) throw new Error('no completed person job for E00002');
    const data = job.data as { key: string; indexed: boolean; entry: { email: string } };
    expect(data.indexed).toBe(true);
    const keys = new RedisKeys(h.env.QUEUE_PREFIX ?? '');
    const raw = new Redis(redis.url);
    await raw.hdel(keys.peopleMap, data.key);
    await raw.del(keys.personPending(data.key));
    await raw.hdel(keys.peopleIndex, 'sid:E00002', `email:${data.entry.email.toLowerCase()}`);
    await new Promise((r) => setTimeout(r, 1_500)); // everysec: the deletions reach the AOF
    raw.disconnect();

    // SIGKILL and restart from the AOF on the same port: a new server process (new run_id).
    const { dir, port } = redis;
    const exited = new Promise((r) => redis?.process.once('exit', r));
    redis.process.kill('SIGKILL');
    await exited;
    redis = await startEmbeddedRedis({ appendOnly: true, keepDir: true, dir, port });

    // The job runs again (as when its completion was among the lost writes).
    await personQueue.add('person', job.data, { jobId: `${job.id}-again` });
    await h.startWorkers();
    const deadline = Date.now() + 30_000;
    let state = await personQueue.getJobState(`${job.id}-again`);
    while (state !== 'completed' && state !== 'failed' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      state = await personQueue.getJobState(`${job.id}-again`);
    }
    expect(state).toBe('completed');
    expect(h.sim.people().filter((p) => p.system_id === 'E00002')).toHaveLength(1);
    expect(h.sim.stats().duplicates).toEqual({
      peopleBySystemId: 0,
      peopleByEmail: 0,
      liveHidCredentials: 0,
    });
  }, 120_000);
});
