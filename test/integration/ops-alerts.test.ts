import { PassThrough } from 'node:stream';
import got from 'got';
import type { RedisConnection } from '../../src/lib/core/redis.ts';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raiseAlert } from '../../src/lib/ops/alerts.ts';
import { AlertStore } from '../../src/lib/store/alerts.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { ManualClock } from '../../src/lib/core/clock.ts';
import { type Collector, startCollector } from '../helpers/lifecycle.ts';
import { deletePrefix, testRedis, uniquePrefix } from '../helpers/redis.ts';

describe('alerts: warn log, fleet-wide counter, optional webhook, once per occurrence', () => {
  let redis: RedisConnection;
  let collector: Collector;
  const prefix = uniquePrefix('alert');
  beforeAll(async () => {
    redis = testRedis();
    collector = await startCollector();
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
    await collector.close();
  });

  it('raises once per dedupe key, and survives an unreachable webhook', async () => {
    const stream = new PassThrough();
    const lines: { level: number; alert?: string; msg: string }[] = [];
    stream.on('data', (c: Buffer) => {
      for (const l of c.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
    });
    const alerts = new AlertStore(redis, new RedisKeys(prefix));
    const deps = {
      alerts,
      logger: pino({ level: 'info' }, stream),
      clock: new ManualClock(),
      http: got.extend({ retry: { limit: 0 } }),
      alertWebhookUrl: collector.url,
    };
    const alert = {
      kind: 'stuck_provisioning',
      dedupeKey: 'cred1:123',
      message: 'credential stuck in provisioning',
      credentialId: 'cred1',
      personId: 7,
    };
    expect(await raiseAlert(deps, alert)).toBe(true);
    expect(await raiseAlert(deps, alert)).toBe(false);
    expect(await alerts.counts()).toEqual({ stuck_provisioning: 1 });
    expect(collector.bodies).toEqual([
      expect.objectContaining({
        alert: 'stuck_provisioning',
        credentialId: 'cred1',
        personId: 7,
        at: '2026-01-01T00:00:00.000Z',
      }),
    ]);
    expect(lines.filter((l) => l.level === 40 && l.alert === 'stuck_provisioning')).toHaveLength(1);

    const down = { ...deps, alertWebhookUrl: 'http://127.0.0.1:9/alerts' };
    expect(await raiseAlert(down, { ...alert, dedupeKey: 'cred2:1', credentialId: 'cred2' })).toBe(true);
    expect(await alerts.counts()).toEqual({ stuck_provisioning: 2 });
  });
});
