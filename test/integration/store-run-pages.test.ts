import type { RedisConnection } from '../../src/lib/core/redis.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPipeline, type Pipeline } from '../../src/app/pipeline.ts';
import { ManualClock } from '../../src/lib/core/clock.ts';
import { loadConfig } from '../../src/lib/core/config.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { createMetrics } from '../../src/lib/core/metrics.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { RunPages } from '../../src/lib/store/run-pages.ts';
import { groupCounts, outcomeGroup, RunStore } from '../../src/lib/store/runs.ts';
import { buildServer } from '../../src/server/app.ts';
import { opsHttpModule } from '../../src/server/ops.ts';
import { bigRunDetail, bigRunEntry, writeBigRun } from '../helpers/big-run.ts';
import { deletePrefix, testRedis, testRedisEnv, testRedisTarget, uniquePrefix } from '../helpers/redis.ts';

/**
 * The outcome index the TRANSITION script keeps, and the paged reads over it: the big-run helper
 * writes exactly what the script writes; a 20,000-entry run pages by outcome with a cursor in
 * roster order, scans whole in bounded batches, and its admin page renders from counters + one page.
 */

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
const SHAPE = { provisionedEvery: 3, failedEvery: 4, now: NOW };

async function snapshot(redis: RedisConnection, keys: RedisKeys, id: string) {
  const { id: _id, ...run } = await redis.hgetall(keys.run(id));
  return {
    run,
    status: await redis.hgetall(keys.runStatus(id)),
    entries: await redis.hgetall(keys.runEntries(id)),
    names: await redis.hgetall(keys.runNames(id)),
    index: await redis.zrange(keys.runOutcomeIndex(id), 0, -1, 'WITHSCORES'),
    groups: await redis.hgetall(keys.runOutcomeGroups(id)),
    series: await redis.hgetall(keys.runSeries(id)),
  };
}

describe('run outcome index and pages', () => {
  let redis: RedisConnection;
  let prefix: string;
  let keys: RedisKeys;
  let runs: RunStore;
  beforeAll(() => {
    redis = testRedis();
    prefix = uniquePrefix('pages');
    keys = new RedisKeys(prefix);
    runs = new RunStore(redis, keys, new ManualClock(NOW));
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('the big-run helper writes what the TRANSITION script writes', async () => {
    const n = 40;
    await runs.create({ source: 'big.csv', delivery: 'webhook', id: 'rSCRIPT' });
    const entries = Array.from({ length: n }, (_, i) => bigRunEntry(i, { id: '', entries: n, ...SHAPE }));
    for (const e of entries) await runs.addEntry('rSCRIPT', e.key, 'person', { line: e.line });
    await runs.setNames('rSCRIPT', Object.fromEntries(entries.map((e, i) => [e.key, `First${i} Last${i}`])));
    await runs.closeIntake('rSCRIPT');
    for (const status of ['provisioned', 'dead:credential'] as const) {
      for (const [i, e] of entries.entries()) {
        if (e.status === status) await runs.move('rSCRIPT', e.key, status, bigRunDetail(i, e, NOW));
      }
    }
    await writeBigRun(redis, keys, runs, { id: 'rHELPER', entries: n, ...SHAPE });
    expect(await snapshot(redis, keys, 'rHELPER')).toEqual(await snapshot(redis, keys, 'rSCRIPT'));
    const run = await runs.get('rSCRIPT');
    expect(run?.failures).toEqual({
      licence_limit: entries.filter((e) => e.status === 'dead:credential').length,
    });
  });

  it('files every status in its outcome group, a new outcome in its own, and follows reopen and replay', async () => {
    await runs.create({ source: 'x', delivery: 'webhook', id: 'rMOVES' });
    const pages = new RunPages(redis, keys);
    await runs.addEntry('rMOVES', 'sid:A', 'person', {});
    await runs.addEntry('rMOVES', 'sid:B', 'invalid', { code: 'invalid_entry' });
    await runs.move('rMOVES', 'sid:A', 'dead:credential', { code: 'licence_limit' });
    let run = await runs.get('rMOVES');
    expect(run?.failures).toEqual({ invalid_entry: 1, licence_limit: 1 });
    expect((await pages.page('rMOVES', 'failed', { limit: 10 })).entries.map((e) => e.key)).toEqual([
      'sid:A',
      'sid:B',
    ]);
    await runs.reopen('rMOVES', 'sid:A', 'credential');
    run = await runs.get('rMOVES');
    expect(run?.failures).toEqual({ invalid_entry: 1 });
    expect((await pages.page('rMOVES', 'pending', { limit: 10 })).entries.map((e) => e.key)).toEqual([
      'sid:A',
    ]);
    expect(groupCounts(run!)).toEqual({ pending: 1, failed: 1 });
    // Any status the store does not know (e.g. a later `cancelled`) is its own group, no special case.
    expect(outcomeGroup('cancelled')).toBe('cancelled');
    for (const s of ['person', 'credential', 'invitation', 'delivery-sms'])
      expect(outcomeGroup(s)).toBe('pending');
  });

  it('a run recorded before the index existed is indexed on its first read, failures counted by code', async () => {
    await runs.create({ source: 'old.csv', delivery: 'webhook', id: 'rOLD' });
    await redis.hdel(keys.run('rOLD'), 'index');
    const n = 3000;
    const statuses: string[] = [];
    const details: string[] = [];
    for (let i = 0; i < n; i++) {
      const status = i % 10 === 0 ? 'dead:credential' : i % 10 === 1 ? 'invalid' : 'provisioned';
      statuses.push(`sid:O${i}`, status);
      details.push(
        `sid:O${i}`,
        JSON.stringify(status === 'dead:credential' ? { code: 'licence_limit' } : { line: n - i + 1 }),
      );
    }
    await redis.hset(keys.runStatus('rOLD'), ...statuses);
    await redis.hset(keys.runEntries('rOLD'), ...details);
    await runs.setMeta('rOLD', {
      total: n,
      'count:provisioned': n * 0.8,
      'count:dead:credential': n / 10,
      'count:invalid': n / 10,
    });
    const pages = new RunPages(redis, keys);
    await pages.ready('rOLD');
    expect(await redis.hget(keys.run('rOLD'), 'index')).toBe('1');
    expect(await redis.zcard(keys.runOutcomeIndex('rOLD'))).toBe(n);
    expect((await runs.get('rOLD'))?.failures).toEqual({ licence_limit: n / 10, invalid_payload: n / 10 });
    // Entries with a line come in roster order (here the reverse of their keys).
    const first = await pages.page('rOLD', 'provisioned', { limit: 3 });
    expect(first.entries.map((e) => [e.key, e.position])).toEqual([
      ['sid:O2999', 2],
      ['sid:O2998', 3],
      ['sid:O2997', 4],
    ]);
    let rows = 0;
    for await (const batch of pages.scan('rOLD')) rows += batch.length;
    expect(rows).toBe(n);
    // Read again: nothing counted twice.
    await new RunPages(redis, keys).ready('rOLD');
    expect((await runs.get('rOLD'))?.failures).toEqual({ licence_limit: n / 10, invalid_payload: n / 10 });
  });

  it('pages a 20,000-entry run by outcome with a cursor, scans it in roster order, renders its admin page', async () => {
    const n = 20_000;
    await writeBigRun(redis, keys, runs, { id: 'rBIG', entries: n, ...SHAPE });
    const pages = new RunPages(redis, keys);
    const run = await runs.get('rBIG');
    const counts = groupCounts(run!);
    expect(counts.pending! + counts.provisioned! + counts.failed!).toBe(n);

    const seen: number[] = [];
    let cursor: number | undefined;
    let pageCount = 0;
    for (;;) {
      const page = await pages.page('rBIG', 'failed', {
        limit: 500,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      for (const e of page.entries) {
        expect(e.status).toBe('dead:credential');
        seen.push(e.position);
      }
      pageCount++;
      if (!page.next) break;
      cursor = Number(page.next);
    }
    expect(seen).toHaveLength(counts.failed!);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(pageCount).toBeGreaterThan(3);

    let total = 0;
    let last = 0;
    let biggest = 0;
    for await (const batch of pages.scan('rBIG', 1000)) {
      biggest = Math.max(biggest, batch.length);
      for (const e of batch) {
        expect(e.position).toBeGreaterThan(last);
        last = e.position;
      }
      total += batch.length;
    }
    expect({ total, biggest }).toEqual({ total: n, biggest: 1000 });

    // The admin page: counts from counters, one page of the chosen outcome, a next-page link.
    const config = loadConfig({ ...testRedisEnv(), QUEUE_PREFIX: prefix, LOG_LEVEL: 'silent' });
    const pipeline: Pipeline = buildPipeline(config, { redis: testRedisTarget(), logger: silentLogger() });
    const { redis: own, queues, runs: store, deadLetters, stores } = pipeline;
    const ops = opsHttpModule({
      ...{ config, redis: own, queues, runs: store, deadLetters, workers: stores.workers },
      ...{ metrics: createMetrics({ defaultMetrics: false }), logger: silentLogger(), insecureLocal: true },
    });
    const server = await buildServer({ logger: silentLogger(), modules: [ops] }).start(0, '127.0.0.1');
    try {
      const url = `${server.url}/admin/runs/rBIG`;
      const first = await (await fetch(url)).text();
      expect(first).toContain(`failed (${counts.failed})`);
      expect(first).toContain(`<li data-code="licence_limit">licence_limit: ${counts.failed} <form`);
      expect(first.match(/data-entry=/g)).toHaveLength(100);
      const next = /id="next-page" href="([^"]+)"/.exec(first)?.[1]?.replace(/&amp;/g, '&');
      expect(next).toMatch(/outcome=failed&cursor=\d+/);
      const second = await (await fetch(`${url}${next?.slice(next.indexOf('?'))}`)).text();
      const keysOf = (page: string) => [...page.matchAll(/data-entry="([^"]+)"/g)].map((m) => m[1]);
      expect(keysOf(second)).toHaveLength(100);
      expect(keysOf(second).filter((k) => keysOf(first).includes(k))).toEqual([]);
      const provisioned = await (await fetch(`${url}?outcome=provisioned`)).text();
      expect(provisioned).toContain(`id="group-provisioned">provisioned (${counts.provisioned})`);
    } finally {
      await server.close();
      await pipeline.close();
    }
  });
});
