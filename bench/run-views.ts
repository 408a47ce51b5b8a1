import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../src/lib/core/clock.ts';
import { createRedis, startEmbeddedRedis } from '../src/lib/core/redis.ts';
import { RedisKeys } from '../src/lib/store/keys.ts';
import { RunStore } from '../src/lib/store/runs.ts';
import { writeBigRun } from '../test/helpers/big-run.ts';
import { killAndWait, spawnServe } from '../test/helpers/cli.ts';
import { type BenchOptions, type BenchResult, round } from './common.ts';
import { timed } from './ingest.ts';

/**
 * Operator views at size (issue 15, acceptance 4): a 1,000,000-entry run written straight into a
 * private redis-server (what an enqueued run with no worker leaves, plus provisioned and dead
 * entries so every group has pages), then the real `serve` and CLI against it:
 * - `/admin/runs/:id` and pages of its entries (`?outcome=…&cursor=…`): wall time per request;
 * - `/healthz` p99 while five clients reload the run page;
 * - the serve process's event-loop p99 from `/metrics`;
 * - `runs report --out FILE` and `runs show --json` peak RSS (/usr/bin/time).
 */

const PREFIX = '{bench}';

async function timedGet(url: string): Promise<{ ms: number; body: string }> {
  const t0 = performance.now();
  const res = await fetch(url);
  const body = await res.text();
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return { ms: performance.now() - t0, body };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export async function runViewsBench({ quick, log }: BenchOptions): Promise<BenchResult> {
  const started = Date.now();
  const entries = quick ? 100_000 : 1_000_000;
  const redisServer = await startEmbeddedRedis();
  const dir = await mkdtemp(join(tmpdir(), 'dfp-run-views-'));
  const redis = createRedis(redisServer.url, 'service');
  const env = {
    REDIS_URL: redisServer.url,
    QUEUE_PREFIX: PREFIX,
    LOG_LEVEL: 'warn',
    WEBHOOK_SECRET: 'w'.repeat(32),
  };
  let serve: Awaited<ReturnType<typeof spawnServe>> | undefined;
  try {
    const keys = new RedisKeys(PREFIX);
    const t0 = performance.now();
    await writeBigRun(redis, keys, new RunStore(redis, keys, new ManualClock(Date.now())), {
      id: 'rMILLION',
      entries,
      provisionedEvery: 2,
      failedEvery: 10,
      now: Date.now(),
    });
    const writeS = (performance.now() - t0) / 1000;
    const usedMb = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0) / 2 ** 20;
    log(`  wrote ${entries} entries in ${writeS.toFixed(1)} s (Redis ${usedMb.toFixed(0)} MB)`);

    serve = await spawnServe(['--insecure-local'], env);
    const runUrl = `${serve.url}/admin/runs/rMILLION`;
    await timedGet(runUrl); // warm-up: connection, first script loads
    const pageMs: number[] = [];
    for (let i = 0; i < 5; i++) pageMs.push((await timedGet(runUrl)).ms);
    const entryPageMs: number[] = [];
    for (const outcome of ['failed', 'pending', 'provisioned']) {
      let url = `${runUrl}?outcome=${outcome}`;
      for (let i = 0; i < 10; i++) {
        const { ms, body } = await timedGet(url);
        entryPageMs.push(ms);
        const next = /id="next-page" href="([^"]+)"/.exec(body)?.[1]?.replace(/&amp;/g, '&');
        if (!next) break;
        url = `${serve.url}${next}`;
      }
    }
    // A page deep into a group: the cursor makes it as cheap as the first.
    const deep = (await timedGet(`${runUrl}?outcome=provisioned&cursor=${entries - 1000}`)).ms;
    log(
      `  run page max ${Math.max(...pageMs).toFixed(1)} ms; entries pages max ${Math.max(...entryPageMs).toFixed(1)} ms`,
    );

    // The same probe with nothing else going on: what the machine gives any request.
    const idle: number[] = [];
    for (let i = 0; i < 100; i++) {
      idle.push((await timedGet(`${serve.url}/healthz`)).ms);
      await new Promise((r) => setTimeout(r, 20));
    }
    // Five clients reload the run page for a while; a probe reads /healthz every 20 ms meanwhile.
    await fetch(`${serve.url}/metrics`).then((r) => r.text()); // resets the event-loop window
    const loadMs = quick ? 5_000 : 15_000;
    const until = Date.now() + loadMs;
    let reloads = 0;
    const clients = Array.from({ length: 5 }, async () => {
      while (Date.now() < until) {
        await timedGet(runUrl);
        reloads++;
      }
    });
    const health: number[] = [];
    const probe = (async () => {
      while (Date.now() < until) {
        health.push((await timedGet(`${serve!.url}/healthz`)).ms);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await Promise.all([...clients, probe]);
    const metrics = await (await fetch(`${serve.url}/metrics`)).text();
    const loopP99Ms =
      Number(/^dfp_event_loop_delay_p99_seconds (\S+)$/m.exec(metrics)?.[1] ?? Number.NaN) * 1000;
    const healthP99 = percentile(health, 99);
    log(
      `  healthz p99 ${healthP99.toFixed(1)} ms over ${health.length} probes, ${reloads} reloads; loop p99 ${loopP99Ms.toFixed(1)} ms`,
    );
    await killAndWait(serve.child, 'SIGTERM');
    serve = undefined;

    const report = await timed(['runs', 'report', 'rMILLION', '--out', join(dir, 'report.csv')], env);
    if (report.code !== 0) throw new Error(`runs report exited ${report.code}`);
    const show = await timed(['runs', 'show', 'rMILLION', '--json'], env);
    if (show.code !== 0) throw new Error(`runs show --json exited ${show.code}`);
    const shownEntries = (JSON.parse(show.stdout) as { entries: unknown[] }).entries.length;
    log(
      `  runs report ${report.seconds} s, ${report.peakRssMb.toFixed(0)} MB; runs show --json ${show.seconds} s, ${show.peakRssMb.toFixed(0)} MB`,
    );

    const figures = {
      entries,
      writeSeconds: round(writeS, 1),
      redisUsedMemoryMb: round(usedMb, 0),
      runPageMs: { median: round(percentile(pageMs, 50), 1), max: round(Math.max(...pageMs), 1) },
      entryPageMs: {
        pages: entryPageMs.length,
        median: round(percentile(entryPageMs, 50), 1),
        max: round(Math.max(...entryPageMs), 1),
        deepCursor: round(deep, 1),
      },
      healthzIdleP99Ms: round(percentile(idle, 99), 1),
      loadAverage: loadavg().map((n) => round(n, 2)),
      healthz: {
        probes: health.length,
        p99Ms: round(healthP99, 1),
        maxMs: round(Math.max(...health), 1),
        reloads,
      },
      serveEventLoopP99Ms: round(loopP99Ms, 1),
      runsReport: { seconds: report.seconds, peakRssMb: round(report.peakRssMb, 0) },
      runsShowJson: { seconds: show.seconds, peakRssMb: round(show.peakRssMb, 0), entries: shownEntries },
    };
    return {
      name: 'run-views',
      figures,
      goals: [
        { goal: 'run page < 1 s', value: figures.runPageMs.max, met: figures.runPageMs.max < 1000 },
        {
          goal: 'each entries page < 1 s',
          value: figures.entryPageMs.max,
          met: figures.entryPageMs.max < 1000,
        },
        {
          goal: '/healthz p99 < 100 ms under 5 reloading clients',
          value: figures.healthz.p99Ms,
          met: healthP99 < 100,
        },
        { goal: 'serve event-loop p99 < 50 ms', value: figures.serveEventLoopP99Ms, met: loopP99Ms < 50 },
        {
          goal: 'runs report RSS < 250 MB',
          value: figures.runsReport.peakRssMb,
          met: report.peakRssMb < 250,
        },
        {
          goal: 'runs show --json RSS < 250 MB (every entry)',
          value: figures.runsShowJson.peakRssMb,
          met: show.peakRssMb < 250 && shownEntries === entries,
        },
      ],
      durationMs: Date.now() - started,
    };
  } finally {
    if (serve) await killAndWait(serve.child, 'SIGTERM');
    await redis.quit();
    await redisServer.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
