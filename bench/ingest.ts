import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { startChaosEnv } from '../chaos/harness.ts';
import type { Env } from '../src/lib/core/config.ts';
import { BIN } from '../test/helpers/cli.ts';
import { type BenchOptions, type BenchResult, round } from './common.ts';
import { callsPerEntry, commandCalls, familyBytes, usedMemory } from './redis-families.ts';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Benchmark 5, ingest: a 1,000,000-row CSV through the real `import` command, measured by
 * /usr/bin/time (wall time and peak RSS of the importing process). Three passes: `--dry-run`
 * (stream, parse, validate) from the sources through tsx and with the built CLI side by side (issue
 * 5's ≥ 100,000 rows/s and ≤ 200 MB goals apply to the built one), and a real import into
 * the queue with a window as large as the file and no worker running (CSV → Redis), which also
 * gives Redis memory per waiting entry.
 */

export async function writeRoster(file: string, rows: number): Promise<number> {
  const out = createWriteStream(file);
  out.write('Employee ID,First Name,Last Name,Work Email,Department\n');
  for (let i = 1; i <= rows; i++) {
    const line = `E${String(i).padStart(8, '0')},Fïrst${i},Last${i},person${i}@example.test,Dept ${i % 40}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return (await stat(file)).size;
}

/** The CLI as `npm run build` makes it, compiled into a scratch folder inside the repo (so its imports resolve). */
async function buildCli(): Promise<string> {
  // At the repo's top level like dist/: the CLI finds package.json two folders up.
  const outDir = join(REPO, '.bench-dist');
  await rm(outDir, { recursive: true, force: true });
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  const child = spawn(process.execPath, [tsc, '-p', join(REPO, 'tsconfig.build.json'), '--outDir', outDir], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`tsc build failed (${code})`);
  return join(outDir, 'cli', 'index.js');
}

/** `nodeArgs`: node's own flags, before the entry (e.g. `--cpu-prof`). */
export async function timed(
  args: string[],
  env: Env,
  entry: string = BIN,
  nodeArgs: readonly string[] = [],
): Promise<{ code: number | null; seconds: number; peakRssMb: number; stdout: string }> {
  const argv = [...nodeArgs, entry, ...args];
  const child = spawn('/usr/bin/time', ['-f', 'BENCH_TIME %e %M', process.execPath, ...argv], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DFP_USE_SOURCE: '1', ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const match = /BENCH_TIME ([\d.]+) (\d+)/.exec(stderr);
  if (!match) throw new Error(`no timing from /usr/bin/time: ${stderr.slice(-500)}`);
  return { code, seconds: Number(match[1]), peakRssMb: Number(match[2]) / 1024, stdout };
}

/** A dry run checks the chosen channel's settings as the real import would (exit 3 without them); nothing is sent. */
const DRY_RUN_ENV = {
  LOG_LEVEL: 'warn',
  DELIVERY_WEBHOOK_URL: 'http://127.0.0.1:9/ingest-bench',
  DELIVERY_WEBHOOK_SECRET: 'ingest-bench-delivery-secret-0123456789',
  ENCRYPTION_KEY: randomBytes(32).toString('hex'),
};

/**
 * The real `import` of `file` into a private Redis with no worker running (`--window` = the file):
 * wall time and peak RSS of the CLI, Redis growth per entry (by key family), commands per entry.
 * `nodeArgs` go before the CLI's entry (e.g. `--cpu-prof`).
 */
export async function queuePass(
  file: string,
  rows: number,
  nodeArgs: readonly string[] = [],
  entry: string = BIN,
) {
  const env = await startChaosEnv({ env: { QUEUE_PREFIX: '{ingest}' } });
  try {
    const redis = env.pipeline.redis;
    const before = await usedMemory(redis);
    const callsBefore = await commandCalls(redis);
    const real = await timed(
      ['import', file, '--json', '--delivery', 'webhook', '--window', String(rows)],
      { ...env.env, LOG_LEVEL: 'warn' },
      entry,
      nodeArgs,
    );
    if (real.code !== 0) throw new Error(`import failed (${real.code}): ${real.stdout.slice(-300)}`);
    const grown = (await usedMemory(redis)) - before;
    const calls = callsPerEntry(callsBefore, await commandCalls(redis), rows);
    const runId = (await env.pipeline.runs.latestId()) ?? '';
    const families = await familyBytes(redis, env.pipeline.keys, runId, rows, grown);
    const waiting = await env.pipeline.runs.get(runId);
    const queued =
      (await env.pipeline.queues.get('person').getWaitingCount()) +
      (await env.pipeline.queues.get('provision').getWaitingCount());
    if (!waiting || waiting.total !== rows || queued === 0) {
      throw new Error(
        `${waiting?.total ?? 0} entries and ${queued} jobs waiting after importing ${rows} rows`,
      );
    }
    return { real, bytesPerEntry: grown / rows, families, calls };
  } finally {
    await env.close();
  }
}

export async function ingestBench({ quick, log }: BenchOptions): Promise<BenchResult> {
  const started = Date.now();
  const rows = quick ? 100_000 : 1_000_000;
  const dir = await mkdtemp(join(tmpdir(), 'dfp-ingest-'));
  const file = join(dir, 'roster.csv');
  try {
    const bytes = await writeRoster(file, rows);
    log(`ingest: ${rows} rows, ${round(bytes / 2 ** 20, 1)} MB`);
    // The CLI's own start-up (tsx compiling the sources) is in every wall time: measure it alone.
    const startup = await timed(['--help'], { LOG_LEVEL: 'warn' });
    const dry = await timed(['import', file, '--dry-run', '--json', '--delivery', 'webhook'], DRY_RUN_ENV);
    if (dry.code !== 0) throw new Error(`dry run failed (${dry.code}): ${dry.stdout.slice(-300)}`);
    const dryRate = rows / dry.seconds;
    const dryNet = rows / Math.max(0.01, dry.seconds - startup.seconds);
    log(`  dry run from sources (tsx): ${round(dryRate, 0)} rows/s, peak RSS ${round(dry.peakRssMb, 1)} MB`);
    // The same dry run with the compiled CLI (`npm run build`, as a deployment runs it): no tsx
    // loader compiling sources at start-up and holding their maps in memory.
    const builtEntry = await buildCli();
    const builtStartup = await timed(['--help'], { LOG_LEVEL: 'warn' }, builtEntry);
    const built = await timed(
      ['import', file, '--dry-run', '--json', '--delivery', 'webhook'],
      DRY_RUN_ENV,
      builtEntry,
    );
    if (built.code !== 0)
      throw new Error(`built dry run failed (${built.code}): ${built.stdout.slice(-300)}`);
    const builtRate = rows / built.seconds;
    log(`  dry run, built CLI: ${round(builtRate, 0)} rows/s, peak RSS ${round(built.peakRssMb, 1)} MB`);

    const { real, bytesPerEntry, families, calls } = await queuePass(file, rows);
    const realRate = rows / real.seconds;
    log(
      `  into the queue: ${round(realRate, 0)} rows/s, peak RSS ${round(real.peakRssMb, 1)} MB, ${round(bytesPerEntry, 0)} B of Redis per entry`,
    );
    log(`  Redis per entry by family: ${JSON.stringify(families)}`);
    log(`  Redis commands per entry: ${JSON.stringify(calls)}`);
    // The same import with the compiled CLI, as deployed (the dry run's issue-5 goals are read there too).
    const builtQueue = (await queuePass(file, rows, [], builtEntry)).real;
    const builtQueueRate = rows / builtQueue.seconds;
    log(
      `  into the queue, built CLI: ${round(builtQueueRate, 0)} rows/s, peak RSS ${round(builtQueue.peakRssMb, 1)} MB`,
    );
    return {
      name: 'ingest',
      durationMs: Date.now() - started,
      figures: {
        rows,
        fileMb: round(bytes / 2 ** 20, 1),
        cliStartupSeconds: startup.seconds,
        dryRun: {
          seconds: dry.seconds,
          rowsPerSecond: round(dryRate, 0),
          rowsPerSecondExcludingStartup: round(dryNet, 0),
          peakRssMb: round(dry.peakRssMb, 1),
        },
        dryRunBuilt: {
          cliStartupSeconds: builtStartup.seconds,
          seconds: built.seconds,
          rowsPerSecond: round(builtRate, 0),
          peakRssMb: round(built.peakRssMb, 1),
          builtOverSources: round(builtRate / dryRate, 2),
        },
        intoQueue: {
          seconds: real.seconds,
          rowsPerSecond: round(realRate, 0),
          rowsPerSecondExcludingStartup: round(rows / Math.max(0.01, real.seconds - startup.seconds), 0),
          peakRssMb: round(real.peakRssMb, 1),
          redisBytesPerWaitingEntry: round(bytesPerEntry, 0),
          redisBytesByFamily: families,
          redisCommandsPerEntry: calls,
        },
        intoQueueBuilt: {
          seconds: builtQueue.seconds,
          rowsPerSecond: round(builtQueueRate, 0),
          peakRssMb: round(builtQueue.peakRssMb, 1),
        },
      },
      // Issue 5's goals hold for the CLI as deployed (built); the tsx figures are reported beside them.
      goals: [
        {
          goal: 'dry run, built CLI ≥ 100,000 rows/s (issue 5)',
          value: round(builtRate, 0),
          met: builtRate >= 100_000,
        },
        {
          goal: 'dry run, built CLI peak RSS ≤ 200 MB (issue 5)',
          value: round(built.peakRssMb, 1),
          met: built.peakRssMb <= 200,
        },
        {
          goal: 'CSV → queue, no worker, from sources: ≥ 30,000 rows/s (issue 16)',
          value: round(realRate, 0),
          met: realRate >= 30_000,
        },
        {
          goal: 'CSV → queue, no worker, from sources: peak RSS ≤ 250 MB (issue 16)',
          value: round(real.peakRssMb, 1),
          met: real.peakRssMb <= 250,
        },
        {
          goal: 'CSV → queue, no worker, built CLI: ≥ 30,000 rows/s (issue 16)',
          value: round(builtQueueRate, 0),
          met: builtQueueRate >= 30_000,
        },
        {
          goal: 'CSV → queue, no worker, built CLI: peak RSS ≤ 250 MB (issue 16)',
          value: round(builtQueue.peakRssMb, 1),
          met: builtQueue.peakRssMb <= 250,
        },
        {
          goal: 'Redis per waiting person ≤ 600 B, run record alone (the queue job aside; issue 16)',
          value: families?.runTotal ?? 0,
          met: (families?.runTotal ?? Infinity) <= 600,
        },
      ],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
