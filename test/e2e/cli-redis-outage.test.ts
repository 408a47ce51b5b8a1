import type { ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPipeline, type Pipeline } from '../../src/app/pipeline.ts';
import { type DeliveryReceiver, startDeliveryReceiver } from '../../src/cli/demo-receiver.ts';
import { type Env, loadConfig } from '../../src/lib/core/config.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/lib/core/redis.ts';
import { statusEventJobId, parseWebhookBody } from '../../src/server/doorflow-webhooks.ts';
import { type RunningSimulator, startSimulator } from '../../src/simulator/index.ts';
import { killAndWait, spawnServe, spawnWorker, startCli } from '../helpers/cli.ts';
import { uniquePrefix } from '../helpers/redis.ts';

const WEBHOOK_SECRET = 'outage-webhook-secret-0123456789abcdef';
const DELIVERY_SECRET = 'outage-delivery-secret-0123456789abcdef';
const PEOPLE = 60;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Redis SIGKILLed for 10 s and then for 60 s under `serve`, two `worker` processes and an
 * `import --wait`, mid-run, and restarted from its AOF on the same port: each process reconnects by
 * itself, `/readyz` and signed DoorFlow webhooks work again within 5 s of Redis answering, webhooks
 * got 503 (never 500) meanwhile, and the run completes with no duplicates.
 */
describe('cli: serve, workers and import --wait through Redis outages', () => {
  let redis: EmbeddedRedis;
  let sim: RunningSimulator;
  let receiver: DeliveryReceiver;
  let pipeline: Pipeline;
  let env: Env;
  let dir: string;
  let serve: ChildProcess | undefined;
  const workers: ChildProcess[] = [];
  let serveUrl = '';
  let ack = 0;
  let staffFile = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dfp-outage-'));
    redis = await startEmbeddedRedis({ appendOnly: true, keepDir: true, dir });
    sim = await startSimulator({ seed: 13 });
    receiver = await startDeliveryReceiver({ secret: DELIVERY_SECRET });
    env = {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: uniquePrefix('outage'),
      LOG_LEVEL: 'warn',
      DOORFLOW_BASE_URL: sim.url,
      DOORFLOW_ACCESS_TOKEN: sim.accessToken,
      // Slow enough that the run is still going through both outages.
      DOORFLOW_RATE_LIMIT: '3',
      DOORFLOW_TIMEOUT_MS: '5000',
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      DELIVERY_DEFAULT: 'webhook',
      DELIVERY_WEBHOOK_URL: receiver.url,
      DELIVERY_WEBHOOK_SECRET: DELIVERY_SECRET,
      JOB_ATTEMPTS: '30',
      JOB_BACKOFF_MS: '200',
      JOB_BACKOFF_MAX_MS: '2000',
      WORKER_CONCURRENCY: '4',
      WEBHOOK_SECRET,
    };
    pipeline = buildPipeline(loadConfig(env), {
      redis: redis.url,
      logger: silentLogger(),
      role: 'service',
    });
    workers.push(await spawnWorker(env), await spawnWorker(env));
    ({ child: serve, url: serveUrl } = await spawnServe(['--insecure-local'], env));
  }, 120_000);

  afterAll(async () => {
    for (const child of [serve, ...workers]) if (child) await killAndWait(child, 'SIGTERM');
    await pipeline?.close();
    await receiver?.close();
    await sim?.close();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** A signed DoorFlow notice (as DoorFlow signs it) with a fresh ack token; its status and job id. */
  const postWebhook = async (): Promise<{ status: number; jobId: string }> => {
    ack += 1;
    const body = JSON.stringify([
      {
        action: 'UPDATE',
        resource: `${sim.url}/api/3/people/999999/credentials/outage${ack}?ack_token=ack${ack}`,
        resource_type: 'PersonCredential',
        resource_id: `outage${ack}`,
        ack_token: `ack${ack}`,
      },
    ]);
    const ts = String(Math.floor(Date.now() / 1000));
    const signature = createHmac('sha256', WEBHOOK_SECRET).update(`${ts}.${body}`).digest('hex');
    const [event] = parseWebhookBody('real', JSON.parse(body), Date.now()) ?? [];
    if (!event) throw new Error('test webhook body did not parse');
    const res = await fetch(`${serveUrl}/webhooks/doorflow`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', Signature: signature, Timestamp: ts },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, jobId: statusEventJobId(event) };
  };
  const readyz = async () =>
    (await fetch(`${serveUrl}/readyz`, { signal: AbortSignal.timeout(10_000) })).status;
  const healthz = async () =>
    (await fetch(`${serveUrl}/healthz`, { signal: AbortSignal.timeout(10_000) })).status;

  /** SIGKILLs Redis, probes serve every second while it is away, restarts it from its AOF. */
  const outage = async (downMs: number) => {
    const statuses: number[] = [];
    const ready: number[] = [];
    const health: number[] = [];
    const exited = new Promise<void>((resolve) => redis.process.once('exit', () => resolve()));
    redis.process.kill('SIGKILL');
    await exited;
    const until = Date.now() + downMs;
    while (Date.now() < until) {
      statuses.push((await postWebhook()).status);
      ready.push(await readyz());
      health.push(await healthz());
      await sleep(1_000);
    }
    redis = await startEmbeddedRedis({ appendOnly: true, keepDir: true, dir: redis.dir, port: redis.port });
    const answered = Date.now();
    // Within 5 s of Redis answering: ready, and a signed webhook accepted and recorded.
    let readyAfterMs: number | undefined;
    let accepted: { status: number; jobId: string } | undefined;
    while (Date.now() - answered < 10_000) {
      if (readyAfterMs === undefined && (await readyz()) === 200) readyAfterMs = Date.now() - answered;
      if (!accepted) {
        const posted = await postWebhook();
        if (posted.status === 200) accepted = posted;
        else statuses.push(posted.status);
      }
      if (readyAfterMs !== undefined && accepted) break;
      await sleep(250);
    }
    const acceptedAfterMs = Date.now() - answered;
    const recorded = accepted ? await pipeline.queues.get('status-events').getJob(accepted.jobId) : undefined;
    return { statuses, ready, health, readyAfterMs, acceptedAfterMs, accepted, recorded };
  };

  it('comes back within 5 s of each outage (10 s, then 60 s); 503 meanwhile, never 500; the run completes once', async () => {
    const file = join(dir, 'staff.csv');
    staffFile = file;
    const rows = Array.from({ length: PEOPLE }, (_, i) => `R${i + 1},Ann${i + 1},Lee,r${i + 1}@example.test`);
    await writeFile(file, ['system_id,first_name,last_name,email', ...rows].join('\n'));
    const importer = startCli(['import', file, '--delivery', 'webhook', '--wait'], env);
    // Mid-run: some people delivered, most not.
    while (receiver.accepted.length < 3) await sleep(200);
    expect(await readyz()).toBe(200);

    const figures: string[] = [];
    for (const downMs of [10_000, 60_000]) {
      expect(receiver.accepted.length).toBeLessThan(PEOPLE);
      const o = await outage(downMs);
      expect(o.statuses.length).toBeGreaterThan(0);
      expect(o.statuses.every((s) => s === 503)).toBe(true);
      expect(o.ready.every((s) => s === 503)).toBe(true);
      expect(o.health.every((s) => s === 200)).toBe(true);
      expect(o.readyAfterMs).toBeLessThan(5_000);
      expect(o.accepted?.status).toBe(200);
      expect(o.acceptedAfterMs).toBeLessThan(5_000);
      expect(o.recorded).toBeTruthy();
      // The same worker processes carry on (none exited and was replaced).
      expect(workers.map((w) => w.exitCode)).toEqual([null, null]);
      figures.push(
        `${downMs / 1000} s: /readyz 200 ${o.readyAfterMs} ms and webhook accepted ${o.acceptedAfterMs} ms after Redis answered; ` +
          `webhooks meanwhile ${o.statuses.filter((s) => s === 503).length} x 503, ${o.statuses.filter((s) => s !== 503).length} other`,
      );
    }

    const code = await Promise.race([importer.exit, sleep(180_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') importer.child.kill('SIGKILL');
    expect(importer.stderr()).toContain(`Redis at ${redis.url} is unreachable: still waiting for run`);
    expect(code).toBe(0);
    expect(importer.stdout()).toMatch(/finished: all provisioned/);
    console.info(`redis outage figures: ${figures.join('; ')}`);
    const stats = sim.stats();
    const live = sim.people().filter((p) => !p.deleted);
    expect(live.map((p) => p.system_id ?? `(none: person ${p.id})`).sort()).toEqual(
      Array.from({ length: PEOPLE }, (_, i) => `R${i + 1}`).sort(),
    );
    expect(stats.people).toBe(PEOPLE);
    expect(stats.duplicates).toEqual({ peopleBySystemId: 0, peopleByEmail: 0, liveHidCredentials: 0 });
    const delivered = new Set(receiver.accepted.map((d) => d.systemId));
    expect(receiver.accepted).toHaveLength(PEOPLE);
    expect(delivered.size).toBe(PEOPLE);
  }, 400_000);

  it('a scheduled sync keeps running in the workers through an outage, changing nothing twice', async () => {
    const sync = pipeline.queues.get('sync');
    const finishedAfter = async (at: number) =>
      (await sync.getCompleted(0, 49)).filter((j) => (j.finishedOn ?? 0) > at);
    const waitForTick = async (at: number, withinMs: number) => {
      const deadline = Date.now() + withinMs;
      while ((await finishedAfter(at)).length === 0 && Date.now() < deadline) await sleep(250);
      return (await finishedAfter(at))[0];
    };
    // The roster the import provisioned, synced every 5 s by the workers (as `sync --schedule` sets up).
    const scheduled = startCli(
      [
        'sync',
        '--source',
        'csv',
        '--file',
        staffFile,
        '--delivery',
        'webhook',
        '--schedule',
        '*/5 * * * * *',
      ],
      env,
    );
    expect(await scheduled.exit).toBe(0);
    expect(await waitForTick(0, 30_000)).toBeTruthy();

    const exited = new Promise<void>((resolve) => redis.process.once('exit', () => resolve()));
    redis.process.kill('SIGKILL');
    await exited;
    await sleep(10_000);
    redis = await startEmbeddedRedis({ appendOnly: true, keepDir: true, dir: redis.dir, port: redis.port });
    const answered = Date.now();
    // A tick is due every 5 s: one runs to completion within 5 s (plus the tick's own sync) of Redis answering.
    const tick = await waitForTick(answered, 15_000);
    expect(tick, 'no scheduled sync completed after Redis came back').toBeTruthy();
    console.info(
      `scheduled sync: a tick completed ${(tick?.finishedOn ?? 0) - answered} ms after Redis answered`,
    );
    expect(workers.map((w) => w.exitCode)).toEqual([null, null]);
    await sync.removeJobScheduler(`sync:csv:${staffFile}`);
    // Everyone was in the roster: nothing offboarded, no second person or delivery.
    const stats = sim.stats();
    expect(stats.people).toBe(PEOPLE);
    expect(stats.duplicates).toEqual({ peopleBySystemId: 0, peopleByEmail: 0, liveHidCredentials: 0 });
    expect(receiver.accepted).toHaveLength(PEOPLE);
  }, 120_000);
});
