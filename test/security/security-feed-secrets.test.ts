import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/lib/core/config.ts';
import { syncProcessor } from '../../src/processors/sync.ts';
import { BIN, type CliResult, runCli } from '../helpers/cli.ts';
import { type FakeHris, fakeEmployees, startFakeHris } from '../helpers/fake-hris.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';
import { dumpRedis } from '../helpers/redis-dump.ts';
import { testRedis } from '../helpers/redis.ts';

const FEED_TOKEN = 'feed-token-5b0c2f9e8a7d4c31b6e2a9f04d7c1e58';
const API_KEY = 'api-key-e41d7a02c95b4f6a8d3e1b7c0f9a2d64';

/** The CLI as a user runs it, with `input` on its stdin (`--header-file -`). */
function runCliWithStdin(args: string[], env: Env, input: string): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DFP_USE_SOURCE: '1', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdin.end(input);
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('issue 14 feed secrets: headers off argv, a scheduled feed URL stored encrypted', () => {
  let h: Harness;
  let hris: FakeHris;
  let dir: string;
  let mapping: string;

  beforeAll(async () => {
    h = await startHarness({ env: { SYNC_SCOPE_PREFIX: 'HR-' } });
    hris = await startFakeHris({ employees: fakeEmployees(3), feedToken: FEED_TOKEN });
    dir = await mkdtemp(join(tmpdir(), 'dfp-feed-secrets-'));
    mapping = join(dir, 'mapping.json');
    await writeFile(
      mapping,
      JSON.stringify({
        system_id: 'employee.id',
        first_name: 'name.first',
        last_name: 'name.last',
        email: 'contact.email',
        active: 'employee.active',
        records: 'data.people',
        next: 'links.next',
      }),
    );
  });
  afterAll(async () => {
    await hris?.close();
    await h?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('--header-file FILE and --header-file - (stdin) send the feed header; it is on no command line', async () => {
    const file = join(dir, 'headers.txt');
    await writeFile(file, `# feed credentials\n\nAuthorization: Bearer ${FEED_TOKEN}\n`, { mode: 0o600 });
    const feed = ['sync', '--source', 'json', '--url', `${hris.url}/feed/next`, '--mapping', mapping];
    const fromFile = await runCli([...feed, '--header-file', file, '--dry-run'], h.env);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    const fromStdin = await runCliWithStdin(
      [...feed, '--header-file', '-', '--dry-run'],
      h.env,
      `Authorization: Bearer ${FEED_TOKEN}\n`,
    );
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    const feedCalls = hris.requests.filter((r) => r.path.startsWith('/feed/'));
    expect(feedCalls.length).toBeGreaterThanOrEqual(2);
    for (const r of feedCalls) expect(r.auth).toBe(`Bearer ${FEED_TOKEN}`);
    for (const out of [fromFile, fromStdin]) expect(out.stdout + out.stderr).not.toContain(FEED_TOKEN);

    const unreadable = await runCli([...feed, '--header-file', join(dir, 'missing.txt'), '--dry-run'], h.env);
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toContain('--header-file: cannot read');
  }, 90_000);

  it('--schedule with ?api_key= in the URL: Redis, output and Bull Board job data show neither key nor header; the job still reads the feed', async () => {
    const url = `${hris.url}/feed/next?api_key=${API_KEY}`;
    const scheduled = await runCliWithStdin(
      [
        'sync',
        '--source',
        'json',
        '--url',
        url,
        '--mapping',
        mapping,
        '--header-file',
        '-',
        '--schedule',
        '0 2 * * *',
      ],
      h.env,
      `Authorization: Bearer ${FEED_TOKEN}\n`,
    );
    expect(scheduled.code, scheduled.stderr).toBe(0);
    expect(scheduled.stdout).toContain('scheduled sync:json:');
    const queue = h.pipeline.queues.get('sync');
    const schedulers = await queue.getJobSchedulers();
    expect(schedulers).toHaveLength(1);
    const data = schedulers[0]?.template?.data as Record<string, unknown>;
    expect(data.url).toBe(`${hris.url}/feed/next`);
    expect(typeof data.encryptedUrl).toBe('string');
    const delayed = await queue.getDelayed();
    const shown = [
      scheduled.stdout + scheduled.stderr,
      JSON.stringify(schedulers),
      JSON.stringify(delayed.map((j) => j.asJSON())),
      (await dumpRedis(h.pipeline.redis, h.config.queuePrefix)).text,
    ];
    for (const text of shown) {
      expect(text).not.toContain(API_KEY);
      expect(text).not.toContain('api_key');
      expect(text).not.toContain(FEED_TOKEN);
    }

    // What the scheduler adds at 02:00, run now by a worker: it decrypts the URL and the header.
    await h.startWorkers({ extraProcessors: [syncProcessor] });
    const events = new QueueEvents('sync', { connection: testRedis(), prefix: h.config.queuePrefix });
    await events.waitUntilReady();
    try {
      const before = hris.requests.length;
      const done = new Promise<unknown>((resolve, reject) => {
        events.once('completed', ({ returnvalue }) => resolve(returnvalue));
        events.once('failed', ({ failedReason }) => reject(new Error(failedReason)));
      });
      await queue.add('sync', data, { jobId: 'tick-now', attempts: 1 });
      const { runId } = (await done) as { runId?: string };
      expect(runId).toBeDefined();
      await h.waitForRun(runId as string);
      const calls = hris.requests.slice(before);
      expect(calls[0]?.path).toBe(`/feed/next?api_key=${API_KEY}`);
      expect(calls[0]?.auth).toBe(`Bearer ${FEED_TOKEN}`);
      expect(h.sim.stats().people).toBe(3); // nothing else synced this feed: the job did
      const after = (await dumpRedis(h.pipeline.redis, h.config.queuePrefix)).text;
      expect(after).not.toContain(API_KEY);
      expect(after).not.toContain(FEED_TOKEN);
    } finally {
      await events.close();
      await queue.removeJobScheduler(schedulers[0]?.key ?? '');
    }
  }, 120_000);
});
