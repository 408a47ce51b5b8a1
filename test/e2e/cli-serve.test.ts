import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, killAndWait, runCli } from '../helpers/cli.ts';
import { testRedisUrl, uniquePrefix } from '../helpers/redis.ts';

const SECRET = 'serve-e2e-secret-4f5f297ec6be983016f3c417fc9d716b';

/** `serve` as a user runs it: refuses without WEBHOOK_SECRET, then verifies and enqueues webhooks. */
describe('cli: serve', () => {
  const env = {
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: uniquePrefix('serve'),
    LOG_LEVEL: 'warn',
    DOORFLOW_BASE_URL: 'http://127.0.0.1:9',
  };
  let child: ChildProcess | undefined;
  let url = '';

  beforeAll(async () => {
    child = spawn(process.execPath, [BIN, 'serve', '--insecure-local', '--port', '0'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DFP_USE_SOURCE: '1',
        ...env,
        WEBHOOK_SECRET: SECRET,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 60_000);
      child?.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /serving on (http:\/\/\S+)/.exec(out);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child?.stderr?.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child?.on('exit', (code) => reject(new Error(`serve exited ${code}:\n${out}`)));
    });
    child.removeAllListeners('exit');
  });
  afterAll(async () => {
    if (child) await killAndWait(child, 'SIGTERM');
  });

  it('refuses to start without WEBHOOK_SECRET (exit 3, names the variable)', async () => {
    const res = await runCli(['serve', '--insecure-local', '--port', '0'], env);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/WEBHOOK_SECRET/);
  });

  it('binds 127.0.0.1 under --insecure-local and answers webhooks: 200 signed, 401 forged', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const body = JSON.stringify([
      {
        action: 'UPDATE',
        resource: 'http://127.0.0.1:9/api/3/people/1/credentials/abc?ack_token=t1',
        resource_type: 'PersonCredential',
        resource_id: 'abc',
        account_id: 'acc',
        ack_token: 't1',
      },
    ]);
    const ts = String(Math.floor(Date.now() / 1000));
    const post = (signature: string) =>
      fetch(`${url}/webhooks/doorflow`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', Signature: signature, Timestamp: ts },
        body,
      });
    expect((await post(createHmac('sha256', 'wrong').update(`${ts}.${body}`).digest('hex'))).status).toBe(
      401,
    );
    const ok = await post(createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex'));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ received: 1 });
    expect((await fetch(`${url}/healthz`)).status).toBeLessThan(600);
  });
});
