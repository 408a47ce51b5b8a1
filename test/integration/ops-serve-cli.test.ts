import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { Env } from '../../src/lib/core/config.ts';
import { killAndWait, runCli, spawnServe } from '../helpers/cli.ts';
import { parsePromText, sampleValue } from '../helpers/ops-prom-text.ts';
import { testRedisUrl, uniquePrefix } from '../helpers/redis.ts';

/** `serve` as a user starts it: refuses without admin credentials, guards /admin, serves /metrics. */

const TOKEN = 'serve-cli-admin-token-93ab-05c86e84278373f30e3f3bb6f6da471c';

function baseEnv(extra: Env = {}): Env {
  return {
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: uniquePrefix('serve'),
    LOG_LEVEL: 'silent',
    WEBHOOK_SECRET: 'whsec-test-1234-0ba3632ae8dd951422f90a61025bfd0d',
    ...extra,
  };
}

async function startServe(args: string[], env: Env): Promise<{ child: ChildProcess; url: string }> {
  return spawnServe(args, env, 30_000);
}

describe('serve (CLI): the ops surface', { timeout: 120_000 }, () => {
  let child: ChildProcess | undefined;
  afterEach(async () => {
    if (child) await killAndWait(child, 'SIGKILL');
    child = undefined;
  });

  it('refuses to start without ADMIN_TOKEN (exit 3, naming it)', async () => {
    const res = await runCli(['serve', '--port', '0'], baseEnv());
    expect(res.code).toBe(3);
    expect(res.stderr).toContain('ADMIN_TOKEN');
    const basic = await runCli(['serve', '--port', '0'], baseEnv({ ADMIN_AUTH: 'basic', ADMIN_USER: 'ops' }));
    expect(basic.code).toBe(3);
    expect(basic.stderr).toContain('ADMIN_PASSWORD');
  });

  it('guards /admin with the token, serves /metrics and /healthz, exits 0 on SIGTERM', async () => {
    const started = await startServe([], baseEnv({ ADMIN_TOKEN: TOKEN, SERVE_HOST: '127.0.0.1' }));
    child = started.child;
    const { url } = started;
    expect((await fetch(`${url}/admin/runs`)).status).toBe(401);
    expect((await fetch(`${url}/admin/queues`)).status).toBe(401);
    expect((await fetch(`${url}/admin/runs`, { headers: { authorization: 'Bearer x' } })).status).toBe(401);
    expect((await fetch(`${url}/admin/runs`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(
      200,
    );
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(503); // no worker is running
    const families = parsePromText(await (await fetch(`${url}/metrics`)).text());
    expect(sampleValue(families, 'dfp_jobs', { queue: 'credential', state: 'failed' })).toBe(0);
    await killAndWait(child, 'SIGTERM');
    expect(child.exitCode).toBe(0);
  });

  it('--insecure-local opens the admin pages but binds to 127.0.0.1 only', async () => {
    const started = await startServe(['--insecure-local'], baseEnv({ SERVE_HOST: '0.0.0.0' }));
    child = started.child;
    expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${started.url}/admin/runs`)).status).toBe(200);
  });
});
