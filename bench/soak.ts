import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPipeline, type Pipeline } from '../src/app/pipeline.ts';
import { startDeliveryReceiver } from '../src/cli/demo-receiver.ts';
import { ManualClock } from '../src/lib/core/clock.ts';
import { fireDueTimers } from '../src/processors/lifecycle/timers.ts';
import { loadConfig } from '../src/lib/core/config.ts';
import { silentLogger } from '../src/lib/core/logger.ts';
import { mastersOf, type RedisConnection, startEmbeddedRedis } from '../src/lib/core/redis.ts';
import { QUEUE_NAMES } from '../src/lib/jobs/registry.ts';
import { janitorProcessor } from '../src/processors/janitor.ts';
import { lifecycleProcessors } from '../src/processors/processor-list.ts';
import { syncDepsOf } from '../src/processors/sync.ts';
import { startWorkers } from '../src/processors/worker.ts';
import { waitForSync } from '../src/producers/sync/sync-progress.ts';
import { runSync } from '../src/producers/sync/sync.ts';
import { startSimulator } from '../src/simulator/index.ts';
import { type BenchOptions, type BenchResult, round } from './common.ts';

/**
 * The soak benchmark (`npm run bench -- --only soak [--people N] [--nights N]`): nightly roster
 * syncs against the simulator, the lifecycle clock moved a day between nights, for a year's worth
 * of retention to come round: night 1 onboards the whole roster, each later night 1 % leave (the
 * longest-serving) and as many join. Each night: the clock moves a day, the lifecycle timers due on
 * the moved clock fire (the scheduler's tick, store/lifecycle-timers.ts), the sync runs through the real
 * pipeline (in-process workers, as `worker` runs them), the joiners accept their invitations in the
 * simulator, the janitor ticks, and Redis `used_memory` is read once the queues are quiet. Goal:
 * night 60 within 10 % of night 31 (the first night after RUN_RETENTION), and the bytes per managed
 * person at rest.
 */

const DAY = 86_400_000;
const CSV_HEADER = 'Employee Number,First Name,Last Name,Work Email,Department,Status';

function arg(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : undefined;
  if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
    throw new Error(`${name} expects a positive whole number`);
  }
  return value;
}

const row = (id: number) =>
  `HR-${String(id).padStart(6, '0')},First${id},Last${id},emp${id}@example.com,Ops,Active`;

/** An id in a key (a run's, a credential's, a job's): digits, mixed case or a `--` joint. */
const isIdPart = (part: string) =>
  /\d/.test(part) || part.length > 24 || part.includes('--') || (/[a-z]/.test(part) && /[A-Z]/.test(part));

/** Keys counted by family (`cred:*:history`, `bull:person:*` …): what grows, when something does. */
async function keyFamilies(redis: RedisConnection): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  // Every master (one on a single Redis): a cluster spreads the keys, each on one of them.
  for (const node of await mastersOf(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const family = key
          .split(':')
          .slice(1)
          .map((part) => (isIdPart(part) ? '*' : part))
          .join(':');
        out[family] = (out[family] ?? 0) + 1;
      }
    } while (cursor !== '0');
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** MEMORY USAGE of the single keys that hold one field or member per person. */
async function bigKeySizes(pipeline: Pipeline): Promise<Record<string, number>> {
  const k = pipeline.keys;
  const named = { peopleIndex: k.peopleIndex, peopleMap: k.peopleMap, managed: k.managed, audit: k.audit };
  const out: Record<string, number> = {};
  for (const [name, key] of Object.entries(named)) {
    out[name] = Number((await pipeline.redis.memory('USAGE', key, 'SAMPLES', '0')) ?? 0);
  }
  return out;
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`soak: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function soakBench({ quick, log }: BenchOptions): Promise<BenchResult> {
  const started = Date.now();
  const people = arg('--people') ?? (quick ? 500 : 10_000);
  const nights = arg('--nights') ?? (quick ? 40 : 60);
  const churn = Math.max(1, Math.round(people / 100));
  const redis = await startEmbeddedRedis();
  // Senders stamp deliveries with the moved clock: the receiver checks them against the same one.
  const clock = new ManualClock(Date.UTC(2027, 0, 1, 2));
  // DoorFlow's clock moves with ours (its invitations expire 30 days after issue on the moved
  // clock, not days before it) and runs on in real time within a night, so its rate window and
  // delays still elapse.
  const realStart = Date.now();
  const sim = await startSimulator({ seed: 5, now: () => clock.now() + (Date.now() - realStart) });
  const receiver = await startDeliveryReceiver({
    secret: 'soak-delivery-secret-0123456789abcdef',
    now: () => clock.now(),
  });
  const dir = await mkdtemp(join(tmpdir(), 'dfp-soak-'));
  const config = loadConfig({
    REDIS_URL: redis.url,
    QUEUE_PREFIX: '{soak}',
    DOORFLOW_BASE_URL: sim.url,
    DOORFLOW_ACCESS_TOKEN: sim.accessToken,
    DOORFLOW_RATE_LIMIT: '2000',
    DOORFLOW_MAX_IN_FLIGHT: '32',
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    DELIVERY_DEFAULT: 'webhook',
    DELIVERY_WEBHOOK_URL: receiver.url,
    DELIVERY_WEBHOOK_SECRET: 'soak-delivery-secret-0123456789abcdef',
    SYNC_SCOPE_PREFIX: 'HR-',
    JOB_BACKOFF_MS: '200',
    JOB_BACKOFF_MAX_MS: '2000',
  });
  const pipeline = buildPipeline(config, { redis: redis.url, logger: silentLogger(), clock });
  const deps = { ...pipeline.processorDeps(), clock };
  const workers = await startWorkers(deps, {
    connection: pipeline.workerConnection(),
    extraProcessors: [...lifecycleProcessors, janitorProcessor],
  });
  const sync = syncDepsOf(deps);
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await pipeline.redis.info('memory'))?.[1]);
  const quiet = async () => {
    for (const name of QUEUE_NAMES) {
      const counts = await pipeline.queues.get(name).getJobCounts('waiting', 'active', 'prioritized');
      if ((counts.waiting ?? 0) + (counts.active ?? 0) + (counts.prioritized ?? 0) > 0) return false;
    }
    return true;
  };
  const emptyMemory = await usedMemory();
  const perNight: { night: number; usedMemory: number; keys: number; runs: number; seconds: number }[] = [];
  const families: Record<number, Record<string, number>> = {};
  const bigKeys: Record<number, Record<string, number>> = {};
  const endState = {
    credentialsByStatus: {} as Record<string, number>,
    deadLetters: {} as Record<string, number>,
    lifecycleTimers: {} as Record<string, number>,
  };
  let traced: Record<string, number> = {};
  let first = 1;
  let next = people + 1;
  let timersFired = 0;
  try {
    for (let night = 1; night <= nights; night++) {
      const t0 = Date.now();
      if (night > 1) {
        clock.advance(DAY);
        first += churn;
        next += churn;
        // The lifecycle timers due on the moved clock fire through the scheduler's own tick (its
        // handlers may set timers already due: tick until none is); retries wait out no backoff.
        for (;;) {
          for (const name of QUEUE_NAMES) await pipeline.queues.get(name).promoteJobs();
          const fired = await fireDueTimers(deps);
          timersFired += fired;
          await until(quiet, 600_000, `night ${night}'s lifecycle timers`);
          if (fired === 0) break;
        }
      }
      const ids = Array.from({ length: next - first }, (_, i) => first + i);
      const file = join(dir, 'roster.csv');
      await writeFile(file, [CSV_HEADER, ...ids.map(row)].join('\n'));
      const report = await runSync(sync, { source: 'csv', file });
      if (report.refused || !report.runId) throw new Error(`night ${night}: sync refused or empty`);
      await waitForSync(sync, report.runId);
      // The joiners accept their invitations in the app (the simulator then provisions them).
      for (const c of sim.credentials()) {
        if (c.status === 'invited' && c.invitation_code) sim.acceptInvitation(c.invitation_code);
      }
      await until(quiet, 600_000, `night ${night}'s pipeline`);
      await pipeline.queues.add('janitor', {}, { jobId: `soak-night-${night}`, removeOnComplete: 20 });
      await until(
        async () => (await pipeline.queues.get('janitor').getJobState(`soak-night-${night}`)) === 'completed',
        120_000,
        `night ${night}'s janitor`,
      );
      const sample = {
        night,
        usedMemory: await usedMemory(),
        keys: await pipeline.redis.dbsize(),
        runs: await pipeline.redis.zcard(pipeline.keys.runs),
        seconds: round((Date.now() - t0) / 1000, 1),
      };
      perNight.push(sample);
      if (night === Math.min(31, nights) || night === nights) {
        families[night] = await keyFamilies(pipeline.redis);
        bigKeys[night] = await bigKeySizes(pipeline);
      }
      log(
        `soak: night ${night}: ${(sample.usedMemory / 2 ** 20).toFixed(2)} MB used, ${sample.keys} keys, ${sample.runs} runs kept (${sample.seconds} s)`,
      );
      if (process.argv.includes('--trace')) {
        const now = await keyFamilies(pipeline.redis);
        const moved = [...new Set([...Object.keys(now), ...Object.keys(traced)])]
          .map((f) => [f, (now[f] ?? 0) - (traced[f] ?? 0)] as const)
          .filter(([, d]) => d !== 0)
          .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
          .slice(0, 14);
        log(
          `  families moved: ${moved.map(([f, d]) => `${f} ${d > 0 ? '+' : ''}${d} (=${now[f] ?? 0})`).join(', ')}`,
        );
        traced = now;
      }
    }
    // What the fleet holds at the end: credentials by status, dead letters by step and code.
    endState.credentialsByStatus = await pipeline.stores.credentials.countByStatus();
    endState.lifecycleTimers = { ...(await pipeline.stores.timers.counts()), fired: timersFired };
    for (const d of await pipeline.deadLetters.list()) {
      const k = `${d.queue}:${d.code}`;
      endState.deadLetters[k] = (endState.deadLetters[k] ?? 0) + 1;
    }
  } finally {
    await workers.close();
    await pipeline.close();
    await receiver.close();
    await sim.close();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const at = (n: number) => perNight.find((s) => s.night === n)?.usedMemory ?? Number.NaN;
  const steady = Math.min(31, nights);
  const ratio = at(nights) / at(steady);
  const perPerson = (at(nights) - emptyMemory) / people;
  return {
    name: 'soak',
    durationMs: Date.now() - started,
    figures: {
      people,
      nights,
      joinersAndLeaversPerNight: churn,
      retention: config.retention,
      emptyUsedMemory: emptyMemory,
      [`usedMemoryNight${steady}`]: at(steady),
      [`usedMemoryNight${nights}`]: at(nights),
      ratio: round(ratio, 4),
      bytesPerManagedPersonAtRest: Math.round(perPerson),
      keysByFamily: families,
      bigKeyBytes: bigKeys,
      endState,
      perNight,
    },
    goals: [
      {
        goal: `Redis used_memory night ${nights} within 10 % of night ${steady}`,
        value: round(ratio, 3),
        met: Math.abs(ratio - 1) <= 0.1,
      },
      {
        goal: 'no dead letters (every joiner delivered, every leaver offboarded)',
        value: Object.values(endState.deadLetters).reduce((a, b) => a + b, 0),
        met: Object.keys(endState.deadLetters).length === 0,
      },
      { goal: 'bytes per managed person at rest (figure)', value: Math.round(perPerson), met: true },
      {
        goal: 'lifecycle timers fired on the moved clock (figure)',
        value: timersFired,
        met: timersFired > 0,
      },
    ],
  };
}
