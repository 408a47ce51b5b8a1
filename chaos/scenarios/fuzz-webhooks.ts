import { WebhookSignatureStore } from '../../src/lib/store/webhook-signatures.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import fc from 'fast-check';
import type { RedisConnection } from '../../src/lib/core/redis.ts';
import { loadConfig } from '../../src/lib/core/config.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { createQueues } from '../../src/lib/jobs/registry.ts';
import { createRedis, startEmbeddedRedis } from '../../src/lib/core/redis.ts';
import { buildServer } from '../../src/server/app.ts';
import {
  doorflowWebhookModule,
  statusEventEnqueuer,
  WEBHOOK_PATH,
} from '../../src/server/doorflow-webhooks.ts';
import { expectations, type Scenario } from '../scenario.ts';

/**
 * Fuzzed requests at the real `POST /webhooks/doorflow` receiver (the `serve` module) backed by a
 * real Redis and the real `status-events` queue. Every request without a valid signature (random
 * bytes, random headers, a wrong secret, a tampered body, a stale timestamp, oversized bodies,
 * raw TCP garbage) must be refused with 4xx and change nothing in Redis; validly signed garbage
 * is refused with 400 and also changes nothing. A validly signed event at the end must be
 * accepted, so the check can see a change when there is one.
 */

const SECRET = 'whsec-chaos-fuzz-0a2cb98b8a2b8b233aa7c20ba17dca38';
const sign = (secret: string, ts: string, body: Buffer) =>
  createHmac('sha256', secret).update(`${ts}.`).update(body).digest('hex');
const event = (id: string) =>
  Buffer.from(
    JSON.stringify([
      {
        action: 'UPDATE',
        resource: `https://api.doorflow.com/api/3/people/1/credentials/${id}?ack_token=t${id}`,
        resource_type: 'PersonCredential',
        resource_id: id,
        account_id: 'acc',
        ack_token: `t${id}`,
      },
    ]),
  );

type Attack = { kind: string; body: Buffer; headers: Record<string, string> };

const now = () => String(Math.floor(Date.now() / 1000));
const bytes = fc.uint8Array({ maxLength: 2_000 }).map((b) => Buffer.from(b));
const anyBody = fc.oneof(
  bytes,
  fc.string().map((s) => event(s || 'x')),
  fc.json().map((j) => Buffer.from(j)),
);
const junkHeader = fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^[0-9a-f]{64}$/));

const attack: fc.Arbitrary<Attack> = fc.oneof(
  fc.record({ kind: fc.constant('no headers'), body: anyBody, headers: fc.constant({}) }),
  fc
    .record({ body: anyBody, sig: junkHeader, ts: fc.oneof(junkHeader, fc.constant(now())) })
    .map(({ body, sig, ts }) => ({
      kind: 'random signature',
      body,
      headers: { signature: sig, timestamp: ts },
    })),
  anyBody.map((body) => {
    const ts = now();
    return {
      kind: 'wrong secret',
      body,
      headers: { signature: sign('not-the-secret', ts, body), timestamp: ts },
    };
  }),
  fc.record({ body: anyBody, extra: bytes }).map(({ body, extra }) => {
    const ts = now();
    const tampered = Buffer.concat([body, extra.length ? extra : Buffer.from(' ')]);
    return {
      kind: 'tampered body',
      body: tampered,
      headers: { signature: sign(SECRET, ts, body), timestamp: ts },
    };
  }),
  fc.integer({ min: 301, max: 10_000_000 }).map((skew) => {
    const ts = String(Math.floor(Date.now() / 1000) + (skew % 2 ? skew : -skew));
    const body = event('stale');
    return { kind: 'stale timestamp', body, headers: { signature: sign(SECRET, ts, body), timestamp: ts } };
  }),
  fc.constant(0).map(() => ({
    kind: 'seed format, wrong signature',
    body: event('seed'),
    headers: { signature: 'ab'.repeat(32) },
  })),
);

async function keysUnder(redis: RedisConnection, prefix: string): Promise<string[]> {
  let cursor = '0';
  const all: string[] = [];
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    all.push(...keys);
  } while (cursor !== '0');
  return all.sort();
}

export const fuzzWebhooks: Scenario = {
  name: 'fuzz-webhooks',
  title: 'fuzzed webhook requests: no crash, no state change without a valid signature',
  async run({ quick, log }) {
    const started = Date.now();
    const { failures, expect } = expectations();
    const embedded = await startEmbeddedRedis();
    const redis = createRedis(embedded.url, 'worker');
    const prefix = '{fuzz}';
    const config = loadConfig({ REDIS_URL: embedded.url, QUEUE_PREFIX: prefix });
    const queues = createQueues(redis, prefix, config.jobs);
    const server = await buildServer({
      logger: silentLogger(),
      modules: [
        doorflowWebhookModule({
          secret: SECRET,
          acceptSeedFormat: true,
          signatures: new WebhookSignatureStore(redis, new RedisKeys(prefix)),
          logger: silentLogger(),
          maxBodyBytes: 64 * 1024,
          enqueue: statusEventEnqueuer(queues),
        }),
      ],
    }).start(0, '127.0.0.1');
    const statuses = new Map<string, number>();
    const post = (a: Attack) =>
      fetch(`${server.url}${WEBHOOK_PATH}`, { method: 'POST', headers: a.headers, body: a.body });
    try {
      // Make the queue's own keys exist first, so "no change" compares like with like.
      await queues.get('status-events').waitUntilReady();
      await queues.get('status-events').count();
      const beforeKeys = await keysUnder(redis, prefix);
      const before = beforeKeys.length;
      const runs = quick ? 300 : 2_000;
      const check = await fc.check(
        fc.asyncProperty(attack, async (a) => {
          const res = await post(a);
          await res.arrayBuffer();
          statuses.set(`${a.kind} → ${res.status}`, (statuses.get(`${a.kind} → ${res.status}`) ?? 0) + 1);
          if (res.status < 400 || res.status >= 500) throw new Error(`${a.kind} answered ${res.status}`);
        }),
        { numRuns: runs, seed: 21 },
      );
      expect(!check.failed, `attack property: ${fc.defaultReportMessage(check) ?? ''}`.slice(0, 2000));
      // Oversized and validly signed garbage.
      const big = Buffer.alloc(200 * 1024, 0x7b);
      const ts = now();
      const oversized = await post({
        kind: 'oversized',
        body: big,
        headers: { signature: sign(SECRET, ts, big), timestamp: ts },
      });
      expect(oversized.status === 413, `oversized body answered ${oversized.status}`);
      const garbage = Buffer.from('{"not":"an event"');
      const signedGarbage = await post({
        kind: 'signed garbage',
        body: garbage,
        headers: { signature: sign(SECRET, ts, garbage), timestamp: ts },
      });
      expect(signedGarbage.status === 400, `signed malformed JSON answered ${signedGarbage.status}`);
      // Raw TCP garbage: malformed HTTP must not take the server down.
      for (let i = 0; i < (quick ? 20 : 100); i++) {
        await new Promise<void>((resolve) => {
          const socket = connect(Number(new URL(server.url).port), '127.0.0.1', () => {
            socket.end(Buffer.from(fc.sample(bytes, { numRuns: 1, seed: i })[0] ?? Buffer.alloc(0)));
          });
          socket.on('error', () => resolve());
          socket.on('close', () => resolve());
          socket.setTimeout(2_000, () => socket.destroy());
          socket.resume();
        });
      }
      const afterKeys = await keysUnder(redis, prefix);
      const after = afterKeys.length;
      const queued = await queues.get('status-events').count();
      expect(
        after === before,
        `Redis keys under the prefix went from ${before} to ${after}: new ${afterKeys.filter((k) => !beforeKeys.includes(k)).join(', ')}`,
      );
      expect(queued === 0, `${queued} status events queued by unsigned requests`);
      // Control: a validly signed event is accepted and queued (the check can see a change).
      const good = event('good');
      const ts2 = now();
      const ok = await post({
        kind: 'valid',
        body: good,
        headers: { signature: sign(SECRET, ts2, good), timestamp: ts2 },
      });
      expect(ok.status === 200, `valid request answered ${ok.status}`);
      expect((await queues.get('status-events').count()) === 1, 'the valid event was not queued');
      log(`fuzz-webhooks: ${check.numRuns} fuzzed requests, keys ${before} → ${after}, control accepted`);
      return {
        name: 'fuzz-webhooks',
        ok: failures.length === 0,
        durationMs: Date.now() - started,
        failures,
        figures: {
          fuzzedRequests: check.numRuns,
          rawTcpGarbage: quick ? 20 : 100,
          answers: Object.fromEntries([...statuses.entries()].sort()),
          redisKeysBefore: before,
          redisKeysAfter: after,
          statusEventsQueuedByInvalidRequests: queued,
          validControlAccepted: ok.status === 200,
        },
      };
    } catch (err) {
      failures.push(err instanceof Error ? err.message : String(err));
      return { name: 'fuzz-webhooks', ok: false, durationMs: Date.now() - started, failures, figures: {} };
    } finally {
      await server.close();
      await queues.close();
      await redis.quit();
      await embedded.stop();
    }
  },
};
