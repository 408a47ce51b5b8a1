import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { buildPipeline, type Pipeline } from '../../src/app/pipeline.ts';
import { type Env, loadConfig } from '../../src/lib/core/config.ts';
import { startHeartbeat } from '../../src/lib/core/heartbeat.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { createMetrics } from '../../src/lib/core/metrics.ts';
import { mountOps } from '../../src/server/ops.ts';
import { parsePromText, sampleValue } from '../helpers/ops-prom-text.ts';
import { deletePrefix, testRedisEnv, testRedisTarget, uniquePrefix } from '../helpers/redis.ts';

const TOKEN = 'admin-token-0123456789abcdef-13ef5d7cd4b308f9b905bbbb6c4d1544';

interface Served {
  url: string;
  pipeline: Pipeline;
  prefix: string;
  close(): Promise<void>;
}

async function serve(
  env: Env,
  options: { insecureLocal?: boolean; readOnlyQueues?: boolean } = {},
): Promise<Served> {
  const prefix = uniquePrefix('opsweb');
  const config = loadConfig({ ...testRedisEnv(), QUEUE_PREFIX: prefix, LOG_LEVEL: 'silent', ...env });
  const pipeline = buildPipeline(config, { redis: testRedisTarget(), logger: silentLogger() });
  const app = express();
  mountOps(app, {
    config,
    redis: pipeline.redis,
    queues: pipeline.queues,
    runs: pipeline.runs,
    deadLetters: pipeline.deadLetters,
    audit: pipeline.audit,
    workers: pipeline.stores.workers,
    metrics: createMetrics(),
    logger: silentLogger(),
    ...options,
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    pipeline,
    prefix,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await deletePrefix(pipeline.redis, prefix);
      await pipeline.close();
    },
  };
}

describe('ops HTTP surface', () => {
  let served: Served | undefined;
  afterEach(async () => {
    await served?.close();
    served = undefined;
  });

  it('answers 401 to every unauthenticated or wrongly authenticated /admin request', async () => {
    served = await serve({ ADMIN_TOKEN: TOKEN });
    const paths = [
      '/admin',
      '/admin/runs',
      '/admin/runs/x',
      '/admin/queues',
      '/admin/queues/api/queues',
      '/admin/nope',
    ];
    for (const path of paths) {
      const res = await fetch(served.url + path, { redirect: 'manual' });
      expect(res.status, path).toBe(401);
    }
    const sameLength = TOKEN.slice(0, -1) + (TOKEN.endsWith('f') ? 'e' : 'f');
    expect(sameLength).toHaveLength(TOKEN.length);
    for (const wrong of [sameLength, 'short', `${TOKEN}-longer`, '']) {
      const res = await fetch(`${served.url}/admin/runs`, { headers: { authorization: `Bearer ${wrong}` } });
      expect(res.status, `token of length ${wrong.length}`).toBe(401);
    }
    // Basic credentials mean nothing in token mode.
    const basic = `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`;
    expect((await fetch(`${served.url}/admin/runs`, { headers: { authorization: basic } })).status).toBe(401);
    // A forged session cookie is refused too.
    const forged = await fetch(`${served.url}/admin/runs`, {
      headers: { cookie: `dfp_admin=${Date.now()}.abc.def` },
    });
    expect(forged.status).toBe(401);
    // Browsers get the login form with the 401.
    const page = await fetch(`${served.url}/admin/runs`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('action="/login"');

    const ok = await fetch(`${served.url}/admin/runs`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('<h1>Runs</h1>');
    const board = await fetch(`${served.url}/admin/queues/api/queues`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(board.status).toBe(200);
    const body = (await board.json()) as { queues: { name: string }[] };
    expect(body.queues.map((q) => q.name)).toEqual(
      expect.arrayContaining(['person', 'credential', 'invitation']),
    );
  });

  it('logs in with the form: HttpOnly SameSite=Strict cookie; POSTs need the CSRF token and same origin', async () => {
    served = await serve({ ADMIN_TOKEN: TOKEN });
    const wrong = await fetch(`${served.url}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: 'nope' }),
      redirect: 'manual',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const login = await fetch(`${served.url}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: TOKEN, next: '/admin/runs' }),
      redirect: 'manual',
    });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/admin/runs');
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(';')[0] ?? '';

    const page = await fetch(`${served.url}/admin/runs`, { headers: { cookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Sign out');

    const replay = (headers: Record<string, string>, body: Record<string, string>) =>
      fetch(`${served!.url}/admin/dead-letters/replay`, {
        method: 'POST',
        headers: { cookie, ...headers },
        body: new URLSearchParams(body),
        redirect: 'manual',
      });
    expect((await replay({}, { code: 'licence_limit' })).status).toBe(403); // no CSRF token
    expect((await replay({}, { code: 'licence_limit', _csrf: 'forged' })).status).toBe(403);
    expect((await replay({ origin: 'http://evil.example' }, { code: 'licence_limit' })).status).toBe(403);
    expect((await replay({ 'sec-fetch-site': 'cross-site' }, { code: 'licence_limit' })).status).toBe(403);
    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(html)?.[1];
    expect(csrf).toBeTruthy();
    const good = await replay({ origin: served.url }, { code: 'licence_limit', _csrf: csrf ?? '' });
    expect(good.status).toBe(303);
    // The same token from another site is still refused.
    expect(
      (await replay({ origin: 'http://evil.example' }, { code: 'licence_limit', _csrf: csrf ?? '' })).status,
    ).toBe(403);
    // A bearer caller (not browser-attached) needs no CSRF token.
    const bearer = await fetch(`${served.url}/admin/dead-letters/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: new URLSearchParams({ code: 'licence_limit' }),
      redirect: 'manual',
    });
    expect(bearer.status).toBe(303);
    expect(bearer.headers.get('location')).toBe('/admin/runs?replayed=0&skipped=0');

    const logout = await fetch(`${served.url}/logout`, {
      method: 'POST',
      headers: { cookie },
      redirect: 'manual',
    });
    expect(logout.headers.get('set-cookie')).toMatch(/dfp_admin=;/);
  });

  it('a replay from /admin is in the audit log with the admin session that made it (never its secret)', async () => {
    served = await serve({ ADMIN_TOKEN: TOKEN });
    const letter = await served.pipeline.deadLetters.store({
      queue: 'person',
      runId: 'r-audit',
      key: 'sid:A1',
      jobId: 'j1',
      code: 'server_error',
      message: 'DoorFlow answered 503',
      attempts: 12,
      payload: {
        runId: 'r-audit',
        key: 'sid:A1',
        gen: 0,
        delivery: 'webhook',
        entry: { key: 'sid:A1', system_id: 'A1', first_name: 'Ada', last_name: 'Lovelace' },
      },
    });
    const login = await fetch(`${served.url}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: TOKEN, next: '/admin/runs' }),
      redirect: 'manual',
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const html = await (await fetch(`${served.url}/admin/runs`, { headers: { cookie } })).text();
    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(html)?.[1] ?? '';
    const replayed = await fetch(`${served.url}/admin/dead-letters/${encodeURIComponent(letter.id)}/replay`, {
      method: 'POST',
      headers: { cookie, origin: served.url },
      body: new URLSearchParams({ _csrf: csrf }),
      redirect: 'manual',
    });
    expect(replayed.status).toBe(303);
    expect(replayed.headers.get('location')).toMatch(/replayed=1/);
    const entries = [];
    for await (const e of served.pipeline.audit.read()) entries.push(e);
    expect(entries).toEqual([
      expect.objectContaining({
        actor: 'admin',
        operator: expect.stringMatching(/^admin session [0-9a-f]{12} \(cookie\)$/),
        action: 'dead_letter.replay',
        targetType: 'dead_letter',
        targetId: letter.id,
        runId: 'r-audit',
        key: 'sid:A1',
      }),
    ]);
    // The label names the session without giving the cookie (or its id) away.
    const sessionId = decodeURIComponent(cookie.split('=')[1] ?? '').split('.')[0] ?? '';
    expect(sessionId.length).toBeGreaterThan(8);
    expect(JSON.stringify(entries)).not.toContain(sessionId);
    // A bearer caller is named as such.
    await served.pipeline.deadLetters.restore(letter);
    await fetch(`${served.url}/admin/dead-letters/${encodeURIComponent(letter.id)}/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      redirect: 'manual',
    });
    const again = [];
    for await (const e of served.pipeline.audit.read()) again.push(e);
    expect(again.at(-1)).toMatchObject({ operator: 'admin (bearer token)', action: 'dead_letter.replay' });
  });

  it('/admin/runs shows the newest 500 dead letters and how many there are, not the whole backlog', async () => {
    served = await serve({ ADMIN_TOKEN: TOKEN });
    for (let i = 0; i < 520; i++) {
      const key = `sid:B${i}`;
      await served.pipeline.deadLetters.store({
        queue: 'person',
        runId: 'r-backlog',
        key,
        jobId: `j${i}`,
        code: i % 2 === 0 ? 'server_error' : 'validation_failed',
        message: 'DoorFlow answered 503',
        attempts: 3,
        payload: {
          runId: 'r-backlog',
          key,
          gen: 0,
          delivery: 'webhook',
          entry: { key, system_id: `B${i}`, first_name: 'Ada', last_name: 'Lovelace' },
        },
      });
    }
    const html = await (
      await fetch(`${served.url}/admin/runs`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).text();
    expect(html.match(/<tr data-dead-letter=/g)?.length).toBe(500);
    expect(html).toContain('The newest 500 of 520 are shown');
    // Letters stored in the same millisecond tie in the index, so which 500 are newest varies.
    expect(html).toMatch(/server_error \(\d+ among the newest 500\)/);
  });

  it('Basic auth mode: 401 with a challenge unless user and password match', async () => {
    served = await serve({ ADMIN_AUTH: 'basic', ADMIN_USER: 'ops', ADMIN_PASSWORD: 'pa55word-xyz' });
    const auth = (u: string, p: string) => ({
      authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`,
    });
    const none = await fetch(`${served.url}/admin/runs`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect((await fetch(`${served.url}/admin/runs`, { headers: auth('ops', 'pa55word-xyy') })).status).toBe(
      401,
    );
    expect((await fetch(`${served.url}/admin/runs`, { headers: auth('opz', 'pa55word-xyz') })).status).toBe(
      401,
    );
    expect((await fetch(`${served.url}/admin/runs`, { headers: auth('ops', 'x') })).status).toBe(401);
    expect((await fetch(`${served.url}/admin/runs`, { headers: auth('ops', 'pa55word-xyz') })).status).toBe(
      200,
    );
    // Browsers resend Basic credentials by themselves: a POST without the CSRF token is refused.
    const post = await fetch(`${served.url}/admin/dead-letters/replay`, {
      method: 'POST',
      headers: auth('ops', 'pa55word-xyz'),
      body: new URLSearchParams({ code: 'x' }),
      redirect: 'manual',
    });
    expect(post.status).toBe(403);
  });

  it('Bull Board: retry and clean work through the auth; read-only mode refuses them', async () => {
    served = await serve({ ADMIN_TOKEN: TOKEN });
    const bearer = { authorization: `Bearer ${TOKEN}` };
    const clean = await fetch(`${served.url}/admin/queues/api/queues/person/clean/completed`, {
      method: 'PUT',
      headers: bearer,
    });
    expect(clean.status).toBe(200);
    const retry = await fetch(`${served.url}/admin/queues/api/queues/person/retry/failed`, {
      method: 'PUT',
      headers: bearer,
    });
    expect(retry.status).toBe(200);
    expect(
      (await fetch(`${served.url}/admin/queues/api/queues/person/clean/completed`, { method: 'PUT' })).status,
    ).toBe(401);
    await served.close();

    served = await serve({ ADMIN_TOKEN: TOKEN }, { readOnlyQueues: true });
    const refused = await fetch(`${served.url}/admin/queues/api/queues/person/clean/completed`, {
      method: 'PUT',
      headers: bearer,
    });
    console.info(`[ops] read-only Bull Board answers clean with ${refused.status}`);
    expect(refused.status).toBeGreaterThanOrEqual(400);
    const listing = await fetch(`${served.url}/admin/queues/api/queues`, { headers: bearer });
    const body = (await listing.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(body.queues.every((q) => q.readOnlyMode)).toBe(true);
  });

  it('refuses to mount without credentials unless --insecure-local', async () => {
    await expect(serve({})).rejects.toThrow(/ADMIN_TOKEN/);
    served = await serve({}, { insecureLocal: true });
    expect((await fetch(`${served.url}/admin/runs`)).status).toBe(200);
  });

  it('/healthz is up; /readyz needs Redis and a heartbeating worker; /metrics parses', async () => {
    served = await serve({ ADMIN_TOKEN: TOKEN });
    expect((await fetch(`${served.url}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${served.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toMatchObject({ checks: { redis: { ok: true }, workers: { ok: false } } });
    const beat = await startHeartbeat({
      workers: served.pipeline.stores.workers,
      id: 'test-worker',
    });
    const ready = await fetch(`${served.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      checks: { workers: { detail: '1 live worker' } },
    });
    await beat.stop();
    expect((await fetch(`${served.url}/readyz`)).status).toBe(503);

    const res = await fetch(`${served.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePromText(await res.text());
    expect(sampleValue(families, 'dfp_jobs', { queue: 'person', state: 'waiting' })).toBe(0);
    expect(sampleValue(families, 'dfp_dead_letters')).toBe(0);
  });
});
