import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Env } from '../../src/lib/core/config.ts';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/lib/core/redis.ts';
import { killAndWait, runCli, type ServeChild, spawnServe } from '../helpers/cli.ts';
import { testRedisUrl, uniquePrefix } from '../helpers/redis.ts';

/**
 * Issue 14, admin surface: `serve` spawned through the CLI as a user runs it, attacked over real
 * HTTP with forged Host headers, replayed cookies, malformed cookies and password guessing.
 */

const TOKEN = `sec-admin-${randomBytes(16).toString('hex')}`;
const SECRET = `sec-webhook-${randomBytes(16).toString('hex')}`;

function baseEnv(extra: Env = {}): Env {
  return {
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: uniquePrefix('sec'),
    LOG_LEVEL: 'info',
    WEBHOOK_SECRET: SECRET,
    ADMIN_TOKEN: TOKEN,
    ...extra,
  };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with full control of the headers (fetch refuses to forge Host). */
function send(
  url: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, url),
      { method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function login(url: string, token: string, headers: Record<string, string> = {}): Promise<Reply> {
  const body = new URLSearchParams({ token, next: '/admin/runs' }).toString();
  return send(url, '/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
}

function sessionCookie(reply: Reply): string {
  const set = reply.headers['set-cookie'];
  const first = (Array.isArray(set) ? set : [set ?? '']).find((c) => c.startsWith('dfp_admin='));
  if (!first) throw new Error(`no session cookie (status ${reply.status})`);
  return first;
}

const csrfOf = (page: string) => /name="csrf-token" content="([^"]+)"/.exec(page)?.[1];

describe('serve (CLI): the admin surface under attack', { timeout: 120_000 }, () => {
  const children: ServeChild[] = [];
  let ownRedis: EmbeddedRedis | undefined;
  const start = async (args: string[], env: Env) => {
    const started = await spawnServe(args, env);
    children.push(started);
    return started;
  };
  afterEach(async () => {
    for (const c of children.splice(0)) await killAndWait(c.child, 'SIGKILL');
    await ownRedis?.stop();
    ownRedis = undefined;
  });

  it('answers 421 to a forged Host (DNS rebinding); the allow-list and SERVE_PUBLIC_URL name ours', async () => {
    const { url } = await start([], baseEnv());
    for (const path of ['/admin/runs', '/login']) {
      expect((await send(url, path, { headers: { host: 'rebind.attacker.example' } })).status).toBe(421);
    }
    expect((await send(url, '/admin/runs')).status).toBe(401); // 127.0.0.1:port is ours
    expect((await send(url, '/admin/runs', { headers: { host: 'localhost' } })).status).toBe(401);

    // Signed in with the bearer token: only the Host header decides between 200 and 421.
    const asHost = async (base: string, host: string) =>
      (await send(base, '/admin/runs', { headers: { authorization: `Bearer ${TOKEN}`, host } })).status;
    const listed = await start([], baseEnv({ SERVE_ALLOWED_HOSTS: 'admin.internal' }));
    expect(await asHost(listed.url, 'admin.internal')).toBe(200);
    expect(await asHost(listed.url, 'evil.example')).toBe(421);
    const pub = await start([], baseEnv({ SERVE_PUBLIC_URL: 'https://prov.example.com' }));
    expect(await asHost(pub.url, 'prov.example.com:443')).toBe(200);
    expect(await asHost(pub.url, 'prov.example.com.evil')).toBe(421);
  });

  it('--insecure-local: loopback Host names only, and a CSRF token random per start', async () => {
    const env = baseEnv({ ADMIN_TOKEN: undefined });
    const first = await start(['--insecure-local'], env);
    expect(
      (await send(first.url, '/admin/runs', { headers: { host: 'rebind.attacker.example:8080' } })).status,
    ).toBe(421);
    const page1 = await send(first.url, '/admin/runs');
    expect(page1.status).toBe(200);
    const second = await start(['--insecure-local'], env);
    const page2 = await send(second.url, '/admin/runs');
    const [csrf1, csrf2] = [csrfOf(page1.body), csrfOf(page2.body)];
    expect(csrf1).toBeDefined();
    expect(csrf1).not.toBe(csrf2); // a constant token could be forged by any page
  });

  it('logout revokes the session server-side; a cross-site logout is refused', async () => {
    const { url } = await start([], baseEnv());
    const cookie = sessionCookie(await login(url, TOKEN)).split(';')[0] ?? '';
    expect((await send(url, '/admin/runs', { headers: { cookie } })).status).toBe(200);

    const forged = await send(url, '/logout', {
      method: 'POST',
      headers: { cookie, origin: 'https://attacker.example', 'sec-fetch-site': 'cross-site' },
    });
    expect(forged.status).toBe(403);
    expect((await send(url, '/admin/runs', { headers: { cookie } })).status).toBe(200);

    const out = await send(url, '/logout', {
      method: 'POST',
      headers: { cookie, 'sec-fetch-site': 'same-origin' },
    });
    expect(out.status).toBe(303);
    // The copy of the cookie someone kept no longer works.
    expect((await send(url, '/admin/runs', { headers: { cookie, accept: 'application/json' } })).status).toBe(
      401,
    );
  });

  it('marks the session cookie Secure when SERVE_PUBLIC_URL is https; a malformed cookie is a 401', async () => {
    const pub = await start([], baseEnv({ SERVE_PUBLIC_URL: 'https://prov.example.com' }));
    const secure = sessionCookie(await login(pub.url, TOKEN, { host: 'prov.example.com' }));
    expect(secure).toMatch(/;\s*Secure/i);
    expect(secure).toMatch(/;\s*HttpOnly/i);

    const plain = await start([], baseEnv());
    expect(sessionCookie(await login(plain.url, TOKEN))).not.toMatch(/;\s*Secure/i);
    const bad = await send(plain.url, '/admin/runs', {
      headers: { cookie: 'dfp_admin=%E0%A4%A', accept: 'application/json' },
    });
    expect(bad.status).toBe(401);
    await new Promise((r) => setTimeout(r, 200)); // let a log line, if any, arrive
    expect(plain.output()).not.toContain('URIError');
    expect(plain.output()).not.toContain('http request failed');
  });

  it('answers 429 after 10 failed logins from one address within a minute, even to the right token', async () => {
    const { url } = await start([], baseEnv());
    for (let i = 0; i < 10; i += 1) {
      expect((await login(url, `wrong-${i}`)).status).toBe(401);
    }
    const blocked = await login(url, TOKEN);
    expect(blocked.status).toBe(429);
    expect(blocked.headers['set-cookie']).toBeUndefined();
  });

  it('refuses secrets shorter than 32 characters (exit 3, naming the variable, never the value)', async () => {
    for (const variable of ['ADMIN_TOKEN', 'WEBHOOK_SECRET', 'DELIVERY_WEBHOOK_SECRET']) {
      const short = `short-${variable.length}-x`;
      const res = await runCli(['serve', '--port', '0'], baseEnv({ [variable]: short }));
      expect(res.code, `${variable}: ${res.stderr}`).toBe(3);
      expect(res.stderr).toContain(variable);
      expect(res.stderr).toContain('32');
      expect(`${res.stdout}${res.stderr}`).not.toContain(short);
    }
  });

  it('binds to 127.0.0.1 by default and to SERVE_HOST when set', async () => {
    const { url } = await start([], baseEnv());
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const any = await start([], baseEnv({ SERVE_HOST: '0.0.0.0' }));
    expect(any.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
  });

  it('/metrics requires the METRICS_TOKEN bearer when it is set', async () => {
    const metricsToken = `metrics-${randomBytes(12).toString('hex')}`;
    const { url } = await start([], baseEnv({ METRICS_TOKEN: metricsToken }));
    expect((await send(url, '/metrics')).status).toBe(401);
    expect((await send(url, '/metrics', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    const ok = await send(url, '/metrics', { headers: { authorization: `Bearer ${metricsToken}` } });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('dfp_');
  });

  it('/readyz does not echo the Redis error text', async () => {
    ownRedis = await startEmbeddedRedis();
    const { url } = await start([], baseEnv({ REDIS_URL: ownRedis.url }));
    await ownRedis.stop();
    ownRedis = undefined;
    const reply = await send(url, '/readyz');
    expect(reply.status).toBe(503);
    const body = JSON.parse(reply.body) as { checks: { redis: { ok: boolean; detail: string } } };
    expect(body.checks.redis.ok).toBe(false);
    expect(['unreachable', 'timed out']).toContain(body.checks.redis.detail);
  });
});
