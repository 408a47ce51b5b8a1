import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/lib/core/config.ts';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/lib/core/redis.ts';
import { type RunningSimulator, startSimulator } from '../../src/simulator/index.ts';
import { BIN, killAndWait, runCli, type ServeChild, spawnServe } from '../helpers/cli.ts';
import { type EchoWebhook, startEchoWebhook } from '../helpers/echo-webhook.ts';
import { type FakeSms, startFakeSms } from '../helpers/fake-sms.ts';
import { dumpRedis } from '../helpers/redis-dump.ts';
import { type SmtpReceiver, startSmtpReceiver } from '../helpers/smtp-receiver.ts';

/**
 * Issue 14, acceptance 2: a full run through real processes (a worker and `serve` spawned as a
 * user runs them, logging at debug; the CLI for imports and views; redis-server with an AOF) where
 * every delivery channel refuses with an error quoting the code. Afterwards every Redis key and
 * value, the AOF, every log line and every CLI or Bull Board output is scanned: no invitation
 * code and no token or secret appears anywhere.
 */

const CODE_SHAPE = /[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/;
const secret = (name: string) => `${name}-${randomBytes(20).toString('hex')}`;
const PER_CHANNEL = 2;

/** A long-running CLI child whose stdout and stderr are kept whole. */
function spawnLogged(args: string[], env: Env): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DFP_USE_SOURCE: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  return { child, output: () => out };
}

async function until(check: () => boolean, what: () => string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('issue 14 acceptance 2: the full secret scan', { timeout: 240_000 }, () => {
  let redis: EmbeddedRedis;
  let redisDir: string;
  let dir: string;
  let sim: RunningSimulator;
  let sms: FakeSms;
  let smtp: SmtpReceiver;
  let echo: EchoWebhook;
  let env: Env;
  let worker: ReturnType<typeof spawnLogged> | undefined;
  let serve: ServeChild | undefined;
  const secrets: string[] = [];

  beforeAll(async () => {
    redisDir = await mkdtemp(join(tmpdir(), 'dfp-scan-redis-'));
    redis = await startEmbeddedRedis({ dir: redisDir, appendOnly: true });
    dir = await mkdtemp(join(tmpdir(), 'dfp-scan-'));
    sim = await startSimulator({ seed: 14 });
    sms = await startFakeSms({ authToken: secret('sms') });
    smtp = await startSmtpReceiver();
    echo = await startEchoWebhook();
    // OAuth tokens, so the access and the refresh token both live in the processes.
    const grant = (await (
      await fetch(`${sim.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: sim.issueAuthorizationCode(),
          client_id: sim.oauthClient.clientId,
          client_secret: sim.oauthClient.clientSecret,
        }),
      })
    ).json()) as { access_token: string; refresh_token: string };
    expect(grant.access_token).toBeTruthy();
    const encryptionKey = randomBytes(32);
    env = {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: 'scan',
      LOG_LEVEL: 'debug',
      DOORFLOW_BASE_URL: sim.url,
      DOORFLOW_ACCESS_TOKEN: grant.access_token,
      DOORFLOW_REFRESH_TOKEN: grant.refresh_token,
      DOORFLOW_CLIENT_ID: sim.oauthClient.clientId,
      DOORFLOW_CLIENT_SECRET: sim.oauthClient.clientSecret,
      DOORFLOW_RATE_LIMIT: '200',
      ENCRYPTION_KEY: encryptionKey.toString('hex'),
      DELIVERY_WEBHOOK_URL: echo.url,
      DELIVERY_WEBHOOK_SECRET: secret('delivery'),
      SMTP_URL: smtp.url,
      MAIL_FROM: 'passes@example.test',
      SMS_BASE_URL: sms.url,
      SMS_ACCOUNT_SID: sms.accountSid,
      SMS_AUTH_TOKEN: sms.authToken,
      SMS_FROM: '+15005550006',
      ADMIN_TOKEN: secret('admin'),
      // One job per step: the refused deliveries stay failed BullMQ jobs, whose data, reason and
      // stack trace Bull Board shows and this scan reads (in a batch they are dead letters at once).
      JOBS_BATCH_SIZE: '1',
      WEBHOOK_SECRET: secret('webhook'),
      JOB_ATTEMPTS: '3',
      JOB_BACKOFF_MS: '100',
      JOB_BACKOFF_MAX_MS: '1000',
      INVITATION_WAIT_MAX: '10s',
    };
    secrets.push(
      grant.access_token,
      grant.refresh_token,
      sim.oauthClient.clientSecret,
      sim.accessToken,
      sms.authToken,
      env.DELIVERY_WEBHOOK_SECRET ?? '',
      env.ADMIN_TOKEN ?? '',
      env.WEBHOOK_SECRET ?? '',
      encryptionKey.toString('hex'),
      encryptionKey.toString('base64'),
    );
  }, 120_000);

  afterAll(async () => {
    if (worker) await killAndWait(worker.child, 'SIGTERM');
    if (serve) await killAndWait(serve.child, 'SIGTERM');
    await echo?.close();
    await smtp?.close();
    await sms?.close();
    await sim?.close();
    await redis?.stop();
    for (const d of [dir, redisDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('after a run where every channel echoes the code, no code and no token is anywhere', async () => {
    worker = spawnLogged(['worker'], env);
    const started = worker;
    await until(
      () => started.output().includes('worker ready') || started.child.exitCode !== null,
      () => `worker ready:\n${started.output().slice(-3000)}`,
      90_000,
    );
    serve = await spawnServe([], env);

    sms.echoNext(PER_CHANNEL * 3);
    smtp.echoNext(PER_CHANNEL * 3);
    const outputs: string[] = [];
    let line = 0;
    for (const channel of ['email', 'sms', 'webhook'] as const) {
      const rows = Array.from({ length: PER_CHANNEL }, () => {
        line++;
        return `S${line},Ann${line},Lee,s${line}@example.test,+4477009001${String(line).padStart(2, '0')}`;
      });
      const file = join(dir, `${channel}.csv`);
      await writeFile(file, ['system_id,first_name,last_name,email,mobile', ...rows].join('\n'));
      const imported = await runCli(
        ['import', file, '--delivery', channel, '--wait', '--timeout', '90s'],
        env,
        120_000,
      );
      // Every delivery was refused: the import reports failures (exit 1), not success.
      expect(imported.code, imported.stdout + imported.stderr).toBe(1);
      outputs.push(imported.stdout + imported.stderr);
      // Mid-run the access token expires: the worker refreshes it (a new pair, also secret).
      if (channel === 'email') sim.expireAccessTokens();
    }
    const codes = sim.credentials().map((c) => c.invitation_code ?? '');
    expect(codes).toHaveLength(PER_CHANNEL * 3);
    for (const code of codes) expect(code).toMatch(CODE_SHAPE);
    // Every channel really echoed the code it was sent (so the scan means something).
    expect(sms.requests.filter((r) => r.status === 400).length).toBeGreaterThanOrEqual(PER_CHANNEL);
    expect(echo.refused()).toBeGreaterThanOrEqual(PER_CHANNEL);
    expect(smtp.messages).toHaveLength(0);

    const list = await runCli(['dlq', 'list'], env);
    const listJson = await runCli(['dlq', 'list', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    const dead = JSON.parse(listJson.stdout) as { id: string; code: string }[];
    expect(dead.map((d) => d.code).sort()).toEqual(
      [
        ...Array(PER_CHANNEL).fill('email_rejected'),
        ...Array(PER_CHANNEL).fill('sms_rejected'),
        ...Array(PER_CHANNEL).fill('webhook_rejected'),
      ].sort(),
    );
    outputs.push(list.stdout + list.stderr, listJson.stdout + listJson.stderr);
    for (const d of dead) {
      const shown = await runCli(['dlq', 'show', d.id], env);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toContain('[REDACTED]');
      outputs.push(shown.stdout + shown.stderr);
    }
    const runs = await runCli(['runs', 'list', '--json'], env);
    for (const run of JSON.parse(runs.stdout) as { id: string }[]) {
      const shown = await runCli(['runs', 'show', run.id, '--json'], env);
      expect(shown.code).toBe(0);
      outputs.push(shown.stdout + shown.stderr);
    }

    // Bull Board's own JSON of the failed delivery jobs (data, failedReason, stacktrace).
    const auth = { authorization: `Bearer ${env.ADMIN_TOKEN}` };
    let boardJobs = 0;
    for (const queue of ['delivery-email', 'delivery-sms', 'delivery-webhook']) {
      const res = await fetch(
        `${serve.url}/admin/queues/api/queues?activeQueue=${queue}&status=failed&page=1`,
        { headers: auth },
      );
      expect(res.status).toBe(200);
      const body = await res.text();
      boardJobs += (body.match(/"failedReason"/g) ?? []).length;
      outputs.push(body);
    }
    expect(boardJobs).toBeGreaterThanOrEqual(PER_CHANNEL * 3);

    // Let the AOF catch up (appendfsync everysec), then read every file of it.
    const probe = new Redis(redis.url);
    await probe.bgrewriteaof().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1_500));
    const stored = (await dumpRedis(probe, '')).text;
    probe.disconnect();
    const aofDir = join(redisDir, 'appendonlydir');
    const aof = (
      await Promise.all((await readdir(aofDir)).map((f) => readFile(join(aofDir, f), 'latin1')))
    ).join('\n');
    expect(aof.length).toBeGreaterThan(1000);

    await killAndWait(worker.child, 'SIGTERM');
    await killAndWait(serve.child, 'SIGTERM');
    const logs = [worker.output(), serve.output()];
    expect(worker.output()).toContain('"level":20'); // really at debug

    const scanned: [string, string][] = [
      ['redis', stored],
      ['aof', aof],
      ...logs.map((text, i): [string, string] => [`log ${i}`, text]),
      ...outputs.map((text, i): [string, string] => [`output ${i}`, text]),
    ];
    for (const [where, text] of scanned) {
      for (const code of codes) expect(text.includes(code), `${where} holds a code`).toBe(false);
      expect(CODE_SHAPE.test(text), `${where} holds a code-shaped string`).toBe(false);
      for (const s of secrets) expect(text.includes(s), `${where} holds a secret`).toBe(false);
    }
  });
});
