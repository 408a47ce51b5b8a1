import { WebhookSignatureStore } from '../../src/lib/store/webhook-signatures.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { createHmac } from 'node:crypto';
import type { RedisConnection } from '../../src/lib/core/redis.ts';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/core/clock.ts';
import type { StatusEventPayload } from '../../src/lib/jobs/lifecycle-payloads.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { buildServer, type RunningServer } from '../../src/server/app.ts';
import { doorflowWebhookModule, WEBHOOK_PATH } from '../../src/server/doorflow-webhooks.ts';
import { deletePrefix, testRedis, uniquePrefix } from '../helpers/redis.ts';

const SECRET = 'whsec-receiver-test-533490429413bf3bc5b4b21db73137f4';
const realBody = (n = 1) =>
  JSON.stringify(
    Array.from({ length: n }, (_, i) => ({
      action: 'UPDATE',
      resource: `https://api.doorflow.com/api/3/people/7/credentials/cr${i}?ack_token=tok${i}`,
      resource_type: 'PersonCredential',
      resource_id: `cr${i}`,
      account_id: 'acc1',
      ack_token: `tok${i}`,
    })),
  );
const signReal = (ts: string, body: string, secret = SECRET) =>
  createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');

describe('POST /webhooks/doorflow', () => {
  let redis: RedisConnection;
  let server: RunningServer;
  let prefix: string;
  let enqueued: StatusEventPayload[];
  let failEnqueue: boolean;
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 12, 0, 0));
  const nowTs = () => String(Math.floor(clock.now() / 1000));

  beforeAll(() => {
    redis = testRedis();
  });
  afterAll(async () => {
    await redis.quit();
  });
  beforeEach(async () => {
    prefix = uniquePrefix('wh');
    enqueued = [];
    failEnqueue = false;
    const module = doorflowWebhookModule({
      secret: SECRET,
      acceptSeedFormat: true,
      signatures: new WebhookSignatureStore(redis, new RedisKeys(prefix)),
      logger: silentLogger(),
      wallClock: clock,
      maxBodyBytes: 16 * 1024,
      enqueue: async (events) => {
        if (failEnqueue) throw new Error('redis down');
        enqueued.push(...events);
      },
    });
    server = await buildServer({ logger: silentLogger(), modules: [module] }).start(0, '127.0.0.1');
  });
  afterEach(async () => {
    await server.close();
    await deletePrefix(redis, prefix);
  });

  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${server.url}${WEBHOOK_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
  const keysUnderPrefix = async () => (await redis.keys(`${prefix}*`)).length;

  it('accepts a valid real-format batch, answers 200 and enqueues each credential event', async () => {
    const body = realBody(3);
    const ts = nowTs();
    const res = await post(body, { Signature: signReal(ts, body), Timestamp: ts });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: 3 });
    expect(enqueued.map((e) => (e.format === 'real' ? [e.resourceId, e.ackToken] : []))).toEqual([
      ['cr0', 'tok0'],
      ['cr1', 'tok1'],
      ['cr2', 'tok2'],
    ]);
  });

  it('accepts the seed format when enabled', async () => {
    const body = JSON.stringify({
      event: 'credential.status_changed',
      credential_id: 'cr9',
      person_id: 7,
      old_status: 'invited',
      new_status: 'active',
      timestamp: '2026-11-25T12:00:00Z',
    });
    const res = await post(body, { Signature: createHmac('sha256', SECRET).update(body).digest('hex') });
    expect(res.status).toBe(200);
    expect(enqueued).toMatchObject([
      { format: 'seed', credentialId: 'cr9', personId: 7, newStatus: 'active' },
    ]);
  });

  it.each([
    [
      'wrong secret',
      (b: string, ts: string) => ({ Signature: signReal(ts, b, 'not-the-secret'), Timestamp: ts }),
      401,
    ],
    ['tampered body', (b: string, ts: string) => ({ Signature: signReal(ts, `${b} `), Timestamp: ts }), 401],
    ['missing headers', () => ({}), 401],
    ['missing timestamp (real signature)', (b: string, ts: string) => ({ Signature: signReal(ts, b) }), 401],
    [
      'timestamp 6 min old',
      (b: string) => {
        const old = String(Math.floor(clock.now() / 1000) - 360);
        return { Signature: signReal(old, b), Timestamp: old };
      },
      401,
    ],
    [
      'timestamp 6 min ahead',
      (b: string) => {
        const ahead = String(Math.floor(clock.now() / 1000) + 360);
        return { Signature: signReal(ahead, b), Timestamp: ahead };
      },
      401,
    ],
  ])('rejects %s with nothing changed', async (_name, headersFor, status) => {
    const body = realBody();
    const res = await post(body, headersFor(body, nowTs()));
    expect(res.status).toBe(status);
    expect(enqueued).toHaveLength(0);
    expect(await keysUnderPrefix()).toBe(0);
  });

  it('rejects a replay of an accepted request', async () => {
    const body = realBody();
    const ts = nowTs();
    const headers = { Signature: signReal(ts, body), Timestamp: ts };
    expect((await post(body, headers)).status).toBe(200);
    clock.advance(30_000);
    expect((await post(body, headers)).status).toBe(401);
    expect(enqueued).toHaveLength(1);
  });

  it('answers 400 to a correctly signed but malformed body, and changes nothing', async () => {
    for (const body of ['{"not json', '[{"action":"UPDATE"}]']) {
      const ts = nowTs();
      const res = await post(body, { Signature: signReal(ts, body), Timestamp: ts });
      expect(res.status).toBe(400);
    }
    expect(enqueued).toHaveLength(0);
    expect(await keysUnderPrefix()).toBe(0);
  });

  it('answers 413 to an oversized body before verifying anything', async () => {
    const body = JSON.stringify([{ pad: 'x'.repeat(20 * 1024) }]);
    const ts = nowTs();
    const res = await post(body, { Signature: signReal(ts, body), Timestamp: ts });
    expect(res.status).toBe(413);
    expect(enqueued).toHaveLength(0);
    expect(await keysUnderPrefix()).toBe(0);
  });

  it('answers 503 and releases the replay claim when enqueueing fails, so a retry is accepted', async () => {
    const body = realBody();
    const ts = nowTs();
    const headers = { Signature: signReal(ts, body), Timestamp: ts };
    failEnqueue = true;
    expect((await post(body, headers)).status).toBe(503);
    failEnqueue = false;
    expect((await post(body, headers)).status).toBe(200);
    expect(enqueued).toHaveLength(1);
  });
});
