import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { buildPipeline, type Pipeline } from '../../src/app/pipeline.ts';
import { loadConfig } from '../../src/lib/core/config.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { createRedis, freePort } from '../../src/lib/core/redis.ts';
import { healthRouter } from '../../src/server/health.ts';

/** `/healthz` and `/readyz` of `serve` while Redis is away, and once its connection has ended. */
describe('ops: health while Redis is unreachable', () => {
  let server: Server | undefined;
  let pipeline: Pipeline | undefined;
  const others: Server[] = [];
  const app2 = express();
  afterEach(async () => {
    for (const s of others.splice(0)) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    pipeline?.redis.disconnect();
    if (server) await new Promise<void>((resolve) => server?.close(() => resolve()));
    server?.closeAllConnections();
  });

  it('readyz 503 "unreachable" (no raw error text) and healthz 200 while reconnecting; healthz 503 once the connection ended', async () => {
    // Nothing listens on this port: the connection keeps reconnecting, as during an outage.
    const url = `redis://:s3cret-pass@127.0.0.1:${await freePort()}`;
    const config = loadConfig({ REDIS_URL: url, LOG_LEVEL: 'silent' });
    pipeline = buildPipeline(config, { redis: url, logger: silentLogger(), role: 'service' });
    const app = express();
    app.use(healthRouter({ redis: pipeline.redis, workers: pipeline.stores.workers, timeoutMs: 5_000 }));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    const text = await ready.text();
    expect(JSON.parse(text)).toMatchObject({
      status: 'not_ready',
      checks: { redis: { ok: false, detail: 'unreachable' } },
    });
    expect(text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|s3cret/);
    // Still reconnecting: the process recovers by itself, so it must not be restarted.
    expect(pipeline.redis.status).not.toBe('end');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    // A connection whose retry strategy gave up (the one-shot `producer` role: the old `serve`)
    // cannot recover by itself: /healthz must say so, so the process gets restarted.
    const oneShot = createRedis(url, 'producer');
    oneShot.on('error', () => undefined);
    await new Promise((resolve) => oneShot.once('end', resolve));
    app2.use(healthRouter({ redis: oneShot, workers: pipeline.stores.workers }));
    const ended = app2.listen(0, '127.0.0.1');
    await new Promise((resolve) => ended.once('listening', resolve));
    others.push(ended);
    const base2 = `http://127.0.0.1:${(ended.address() as AddressInfo).port}`;
    const health = await fetch(`${base2}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'redis_connection_ended' });
  });
});
