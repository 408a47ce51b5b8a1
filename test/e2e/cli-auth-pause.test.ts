import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { BIN, killAndWait, runCli, spawnWorker } from '../helpers/cli.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

/** Issue 13 §2: every grant revoked mid-run pauses the fleet; `auth set-token` resumes it. */

async function simPost(url: string, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  return (await res.json()) as Record<string, unknown>;
}

async function setToken(env: Record<string, string>, token: string): Promise<number | null> {
  const child = spawn(process.execPath, [BIN, 'auth', 'set-token'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DFP_USE_SOURCE: '1', ...env },
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  child.stdin.end(`${token}\n`);
  return await new Promise((resolve) => child.on('exit', (c) => resolve(c)));
}

/** A local receiver for NOTIFY_WEBHOOK_URL that keeps every JSON body. */
async function notifyReceiver(): Promise<{ server: Server; url: string; bodies: Record<string, unknown>[] }> {
  const bodies: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => {
      text += c.toString();
    });
    req.on('end', () => {
      bodies.push(JSON.parse(text) as Record<string, unknown>);
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`, bodies };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function authPausedGauge(port: number): Promise<string | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return /^dfp_doorflow_auth_paused(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1];
}

describe('cli: lost DoorFlow authorisation pauses the fleet', () => {
  let h: Harness | undefined;
  let notify: Awaited<ReturnType<typeof notifyReceiver>> | undefined;
  const children: ChildProcess[] = [];
  afterEach(async () => {
    notify?.server.close();
    notify = undefined;
    await Promise.all(children.map((c) => killAndWait(c, 'SIGKILL')));
    children.length = 0;
    await h?.close();
    h = undefined;
  });

  it('all grants revoked at 30 % of 500: no dead letters, auth status paused, set-token resumes, 500 provisioned once', async () => {
    h = await startHarness({ sim: { admin: true } });
    const grant = await simPost(h.sim.url, '/__sim/oauth/grant');
    const env: Record<string, string> = {
      ...(h.env as Record<string, string>),
      DOORFLOW_ACCESS_TOKEN: '',
      DOORFLOW_REFRESH_TOKEN: String(grant.refresh_token),
      DOORFLOW_CLIENT_ID: 'sim-client',
      DOORFLOW_CLIENT_SECRET: 'sim-secret',
      SERVE_HOST: '127.0.0.1',
    };
    notify = await notifyReceiver();
    env.NOTIFY_WEBHOOK_URL = notify.url;
    const metricsPort = await freePort();
    children.push(
      await spawnWorker(env),
      await spawnWorker(env, 90_000, ['--metrics-port', String(metricsPort)]),
    );
    expect(await authPausedGauge(metricsPort)).toBe('0');
    const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, roster(500));
    const provisioned = async () => (await h!.pipeline.runs.get(run.runId))?.counts.provisioned ?? 0;
    let deadline = Date.now() + 60_000;
    while ((await provisioned()) < 150 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await simPost(h.sim.url, '/__sim/oauth/revoke-all')).toMatchObject({
      revoked: expect.any(Number),
    });

    let status: Record<string, unknown> = {};
    deadline = Date.now() + 30_000;
    while (status.state !== 'paused' && Date.now() < deadline) {
      const out = await runCli(['auth', 'status', '--json'], env);
      status = JSON.parse(out.stdout) as Record<string, unknown>;
    }
    expect(status).toMatchObject({ state: 'paused', kind: 'grant', upstreamCode: 'invalid_grant' });
    expect(JSON.stringify(status)).not.toContain(String(grant.refresh_token));
    const atPause = await provisioned();
    expect(atPause).toBeLessThan(500);
    // Paused: nothing is dead-lettered, and the fleet makes no further DoorFlow calls.
    const callsAtPause = h.sim.stats().requestsTotal;
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await h.pipeline.deadLetters.count()).toBe(0);
    expect(h.sim.stats().requestsTotal).toEqual(callsAtPause);
    expect(await authPausedGauge(metricsPort)).toBe('1');
    // Two workers met the pause; the alert went out once.
    const alerts = notify.bodies.filter((b) => b.event === 'doorflow.auth_paused');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ kind: 'grant', upstream_code: 'invalid_grant' });
    expect(JSON.stringify(notify.bodies)).not.toContain(String(grant.refresh_token));

    const fresh = await simPost(h.sim.url, '/__sim/oauth/grant');
    expect(await setToken(env, String(fresh.refresh_token))).toBe(0);
    expect(JSON.parse((await runCli(['auth', 'status', '--json'], env)).stdout)).toEqual({
      state: 'healthy',
    });

    const done = await h.waitForRun(run.runId, 150_000);
    expect(done.counts.provisioned).toBe(500);
    expect(await h.pipeline.deadLetters.count()).toBe(0);
    expect(h.sim.stats().duplicates).toEqual({
      peopleBySystemId: 0,
      peopleByEmail: 0,
      liveHidCredentials: 0,
    });
  }, 240_000);

  it('a worker started with a refresh token other than the dead one lifts the pause and the run completes', async () => {
    h = await startHarness({ sim: { admin: true } });
    const { redis, keys } = h.pipeline;
    // A previous process's seed and dead token, and the pause it set.
    await redis.hset(keys.tokens, { seed: 'old-seed', refresh: 'dead-token', deadRefresh: 'x' });
    await redis.hset(keys.authPause, {
      since: String(Date.now()),
      kind: 'grant',
      upstreamCode: 'invalid_grant',
    });
    const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, roster(5));
    const grant = await simPost(h.sim.url, '/__sim/oauth/grant');
    children.push(
      await spawnWorker({
        ...(h.env as Record<string, string>),
        DOORFLOW_ACCESS_TOKEN: '',
        DOORFLOW_REFRESH_TOKEN: String(grant.refresh_token),
        DOORFLOW_CLIENT_ID: 'sim-client',
        DOORFLOW_CLIENT_SECRET: 'sim-secret',
      }),
    );
    const done = await h.waitForRun(run.runId, 60_000);
    expect(done.counts.provisioned).toBe(5);
    expect(await redis.exists(keys.authPause)).toBe(0);
    expect(await h.pipeline.deadLetters.count()).toBe(0);
  }, 120_000);

  it('a worker started later with the refused refresh token keeps the token set since and the run completes', async () => {
    h = await startHarness({ sim: { admin: true } });
    const dead = await simPost(h.sim.url, '/__sim/oauth/grant');
    const env: Record<string, string> = {
      ...(h.env as Record<string, string>),
      DOORFLOW_ACCESS_TOKEN: '',
      DOORFLOW_REFRESH_TOKEN: String(dead.refresh_token),
      DOORFLOW_CLIENT_ID: 'sim-client',
      DOORFLOW_CLIENT_SECRET: 'sim-secret',
    };
    const first = await spawnWorker(env);
    children.push(first);
    await simPost(h.sim.url, '/__sim/oauth/revoke-all');
    const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, roster(5));
    let status: Record<string, unknown> = {};
    const deadline = Date.now() + 30_000;
    while (status.state !== 'paused' && Date.now() < deadline) {
      status = JSON.parse((await runCli(['auth', 'status', '--json'], env)).stdout) as Record<
        string,
        unknown
      >;
    }
    expect(status).toMatchObject({ state: 'paused', kind: 'grant' });
    await killAndWait(first, 'SIGKILL');
    const fresh = await simPost(h.sim.url, '/__sim/oauth/grant');
    expect(await setToken(env, String(fresh.refresh_token))).toBe(0);
    // The old environment again, with another access token: its seed differs, its refresh token is
    // the dead one. It must not put that token back in place of the fresh one.
    children.push(await spawnWorker({ ...env, DOORFLOW_ACCESS_TOKEN: 'stale-access-token-from-an-old-env' }));
    const done = await h.waitForRun(run.runId, 60_000);
    expect(done.counts.provisioned).toBe(5);
    expect(await h.pipeline.redis.exists(h.pipeline.keys.authPause)).toBe(0);
    expect(await h.pipeline.deadLetters.count()).toBe(0);
  }, 150_000);
});
