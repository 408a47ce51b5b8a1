import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { syncPayloadSchema } from '../../src/lib/jobs/payloads.ts';
import { syncProcessor } from '../../src/processors/sync.ts';
import { encryptSecret } from '../../src/lib/core/crypto.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { fakeEmployees, startFakeHris } from '../helpers/fake-hris.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';
import { testRedis } from '../helpers/redis.ts';

/** A scheduler tick adds a `sync` job; the workers run it like `sync` would, and a refusal fails it. */
describe('scheduled sync job', () => {
  let h: Harness | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs a sync from a job scheduler tick, and fails permanently when refused', async () => {
    h = await startHarness({ env: { SYNC_SCOPE_PREFIX: 'J' } });
    await h.startWorkers({ extraProcessors: [syncProcessor] });
    dir = await mkdtemp(join(tmpdir(), 'dfp-sched-'));
    const file = join(dir, 'roster.csv');
    const rows = Array.from({ length: 12 }, (_, i) => `J${i},Ann${i},Lee,j${i}@example.test`);
    await writeFile(file, ['system_id,first_name,last_name,email', ...rows].join('\n'));

    const queue = h.pipeline.queues.get('sync');
    const connection = testRedis();
    const events = new QueueEvents('sync', { connection, prefix: h.config.queuePrefix });
    await events.waitUntilReady();
    try {
      // Exactly what `sync --schedule` registers, ticking every 200 ms for one run.
      await queue.upsertJobScheduler(
        'sync:test',
        { every: 200, limit: 1 },
        { name: 'sync', data: { source: 'csv', file, delivery: 'webhook' }, opts: { attempts: 1 } },
      );
      const finished = await new Promise<unknown>((resolve, reject) => {
        events.once('completed', ({ returnvalue }) => resolve(returnvalue));
        events.once('failed', ({ failedReason }) => reject(new Error(failedReason)));
      });
      const runId = (finished as { runId?: string }).runId;
      expect(runId).toBeDefined();
      await h.waitForRun(runId!);
      expect(h.sim.stats().people).toBe(12);
      await queue.removeJobScheduler('sync:test');

      // An empty roster would offboard everyone in scope: refused, the job fails for good.
      await writeFile(file, 'system_id,first_name,last_name,email\n');
      const writes = h.sim.stats().writeCount;
      await queue.add('sync', { source: 'csv', file }, { jobId: 'refused-once', attempts: 3 });
      const reason = await new Promise<string>((resolve) =>
        events.once('failed', ({ failedReason }) => resolve(failedReason)),
      );
      expect(reason).toMatch(
        /sync_refused: scheduled sync refused: the source returned zero entries; with 12 people in scope/,
      );
      expect(h.sim.stats().writeCount).toBe(writes);
    } finally {
      await events.close();
      connection.disconnect();
    }
  });

  it('a scheduled JSON-feed sync decrypts its stored auth header, which is never in the job data in clear', async () => {
    h = await startHarness({ env: { SYNC_SCOPE_PREFIX: 'HR-' } });
    const hris = await startFakeHris({ employees: fakeEmployees(7), feedToken: 'feed-secret' });
    dir = await mkdtemp(join(tmpdir(), 'dfp-sched-'));
    const mappingFile = join(dir, 'mapping.json');
    await writeFile(
      mappingFile,
      JSON.stringify({
        system_id: 'employee.id',
        first_name: 'name.first',
        last_name: 'name.last',
        email: 'contact.email',
        records: 'data.people',
        next: 'links.next',
      }),
    );
    try {
      const key = h.config.encryptionKey!;
      const payload = {
        source: 'json' as const,
        url: `${hris.url}/feed/next`,
        mapping: mappingFile,
        delivery: 'webhook' as const,
        encryptedHeaders: { Authorization: encryptSecret(key, 'Bearer feed-secret') },
      };
      expect(JSON.stringify(payload)).not.toContain('feed-secret');
      const ctx = {
        logger: silentLogger(),
        jobId: 'j1',
        attemptsMade: 0,
        signal: undefined,
        delay: async () => new Error('x'),
        updateData: async () => {},
      };
      const result = await syncProcessor.handle(
        syncPayloadSchema.parse(payload),
        h.pipeline.processorDeps(),
        ctx,
      );
      expect(result.runId).toBeDefined();
      expect(hris.requests.length).toBeGreaterThan(0);
      expect(hris.requests.every((r) => r.auth === 'Bearer feed-secret')).toBe(true);
      expect((await h.pipeline.runs.get(result.runId!))?.total).toBe(7);
      // Without the key the job fails permanently rather than calling the feed unauthenticated.
      const noKey = { ...h.pipeline.processorDeps(), config: { ...h.config, encryptionKey: undefined } };
      await expect(syncProcessor.handle(syncPayloadSchema.parse(payload), noKey, ctx)).rejects.toMatchObject({
        code: 'encryption_key_missing',
      });
    } finally {
      await hris.close();
    }
  });
});
