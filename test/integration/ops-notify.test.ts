import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RedisConnection } from '../../src/lib/core/redis.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { createMetrics } from '../../src/lib/core/metrics.ts';
import { createRunNotifier } from '../../src/lib/ops/notify.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { RunNoticeStore } from '../../src/lib/store/run-notices.ts';
import { RunStore } from '../../src/lib/store/runs.ts';
import { startRunWatcher } from '../../src/lib/ops/run-watcher.ts';
import { parsePromText, sampleValue } from '../helpers/ops-prom-text.ts';
import { deletePrefix, testRedis, uniquePrefix } from '../helpers/redis.ts';

interface Receiver {
  url: string;
  bodies: Record<string, unknown>[];
  failNext: number;
  server: Server;
}

async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver = { url: '', bodies: [], failNext: 0, server: createServer() };
  receiver.server.on('request', (req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString();
    });
    req.on('end', () => {
      if (receiver.failNext > 0) {
        receiver.failNext--;
        res.writeHead(503).end();
        return;
      }
      receiver.bodies.push(JSON.parse(raw) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', () => resolve()));
  receiver.url = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}/hook?key=s3cret`;
  return receiver;
}

describe('run-finished notification', () => {
  let redis: RedisConnection;
  let receiver: Receiver;
  let prefix: string;
  beforeEach(async () => {
    redis = testRedis();
    receiver = await startReceiver();
    prefix = uniquePrefix('notify');
  });
  afterEach(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
    receiver.server.closeAllConnections();
    await new Promise<void>((resolve) => receiver.server.close(() => resolve()));
  });

  it('POSTs the summary once per finish (counts, failures by code), retrying after a failed POST', async () => {
    const runs = new RunStore(redis, new RedisKeys(prefix));
    const notices = new RunNoticeStore(redis, new RedisKeys(prefix));
    const runId = await runs.create({ source: 'test.csv', delivery: 'webhook' });
    for (const key of ['sid:1', 'sid:2', 'sid:3', 'sid:4']) await runs.addEntry(runId, key, 'person');
    await runs.closeIntake(runId);
    await runs.move(runId, 'sid:1', 'provisioned', { personId: 1 });
    await runs.move(runId, 'sid:2', 'already_provisioned', { personId: 2 });
    await runs.move(runId, 'sid:3', 'dead:credential', { code: 'licence_limit' });

    const metrics = createMetrics({ defaultMetrics: false });
    const notifier = createRunNotifier({
      url: receiver.url,
      notices,
      logger: silentLogger(),
      timeoutMs: 2_000,
    });
    const watcher = startRunWatcher({
      notices,
      runs,
      notifier,
      metrics,
      logger: silentLogger(),
      intervalMs: 60_000,
    });
    try {
      expect(await watcher.poll()).toEqual([]); // not finished: one entry still at person
      await runs.move(runId, 'sid:4', 'dead:person', { code: 'validation_failed' });

      receiver.failNext = 3; // got retries twice, so the whole send fails once
      expect(await watcher.poll()).toEqual([]);
      expect(receiver.bodies).toHaveLength(0);
      expect(await watcher.poll()).toEqual([runId]);
      expect(await watcher.poll()).toEqual([]);
      expect(receiver.bodies).toHaveLength(1);
      expect(receiver.bodies[0]).toMatchObject({
        event: 'run.finished',
        run_id: runId,
        outcome: 'completed_with_failures',
        total: 4,
        counts: { provisioned: 1, already_provisioned: 1, failed: 2 },
        failures_by_code: { licence_limit: 1, validation_failed: 1 },
      });
      const text = parsePromText(await metrics.registry!.metrics());
      expect(sampleValue(text, 'dfp_runs_finished_total', { outcome: 'completed_with_failures' })).toBe(1);

      // A second notifier (another worker) does not send it again.
      const other = createRunNotifier({ url: receiver.url, notices, logger: silentLogger() });
      const watcher2 = startRunWatcher({
        notices,
        runs,
        notifier: other,
        metrics,
        logger: silentLogger(),
      });
      expect(await watcher2.poll()).toEqual([]);
      watcher2.stop();
      expect(receiver.bodies).toHaveLength(1);
    } finally {
      watcher.stop();
    }
  });

  it('sends nothing without NOTIFY_WEBHOOK_URL', async () => {
    const notifier = createRunNotifier({
      url: undefined,
      notices: new RunNoticeStore(redis, new RedisKeys(prefix)),
      logger: silentLogger(),
    });
    expect(await notifier.wants('r1', undefined)).toBe(false);
    expect(
      await notifier.runFinished({
        runId: 'r1',
        outcome: 'succeeded',
        total: 0,
        counts: {},
        failuresByCode: {},
      }),
    ).toBe(false);
  });
});
