import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { startChaosEnv } from '../chaos/harness.ts';
import type { Env } from '../src/lib/config.ts';
import { BIN } from '../test/helpers/cli.ts';
import { type BenchOptions, type BenchResult, round } from './common.ts';

/**
 * Benchmark 5, ingest: a 1,000,000-row CSV through the real `import` command, measured by
 * /usr/bin/time (wall time and peak RSS of the importing process). Two passes: `--dry-run`
 * (stream, parse, validate: issue 5's ≥ 100,000 rows/s and ≤ 200 MB goals) and a real import into
 * the queue with a window as large as the file and no worker running (CSV → Redis), which also
 * gives Redis memory per waiting entry.
 */

async function writeRoster(file: string, rows: number): Promise<number> {
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

async function timed(
  args: string[],
  env: Env,
): Promise<{ code: number | null; seconds: number; peakRssMb: number; stdout: string }> {
  const child = spawn('/usr/bin/time', ['-f', 'BENCH_TIME %e %M', process.execPath, BIN, ...args], {
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
    const dry = await timed(['import', file, '--dry-run', '--json', '--delivery', 'webhook'], {
      LOG_LEVEL: 'warn',
    });
    if (dry.code !== 0) throw new Error(`dry run failed (${dry.code}): ${dry.stdout.slice(-300)}`);
    const dryRate = rows / dry.seconds;
    const dryNet = rows / Math.max(0.01, dry.seconds - startup.seconds);
    log(`  dry run: ${round(dryRate, 0)} rows/s, peak RSS ${round(dry.peakRssMb, 1)} MB`);

    const env = await startChaosEnv({ env: { QUEUE_PREFIX: '{ingest}' } });
    let real: Awaited<ReturnType<typeof timed>>;
    let bytesPerEntry = 0;
    try {
      const used = async () =>
        Number(/used_memory:(\d+)/.exec(await env.pipeline.redis.info('memory'))?.[1] ?? 0);
      const before = await used();
      real = await timed(['import', file, '--json', '--delivery', 'webhook', '--window', String(rows)], {
        ...env.env,
        LOG_LEVEL: 'warn',
      });
      if (real.code !== 0) throw new Error(`import failed (${real.code}): ${real.stdout.slice(-300)}`);
      bytesPerEntry = ((await used()) - before) / rows;
      const waiting = await env.pipeline.queues.get('person').getWaitingCount();
      if (waiting !== rows) throw new Error(`${waiting} person jobs waiting after importing ${rows} rows`);
    } finally {
      await env.close();
    }
    const realRate = rows / real.seconds;
    log(
      `  into the queue: ${round(realRate, 0)} rows/s, peak RSS ${round(real.peakRssMb, 1)} MB, ${round(bytesPerEntry, 0)} B of Redis per entry`,
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
        intoQueue: {
          seconds: real.seconds,
          rowsPerSecond: round(realRate, 0),
          rowsPerSecondExcludingStartup: round(rows / Math.max(0.01, real.seconds - startup.seconds), 0),
          peakRssMb: round(real.peakRssMb, 1),
          redisBytesPerWaitingEntry: round(bytesPerEntry, 0),
        },
      },
      goals: [
        { goal: 'dry run ≥ 100,000 rows/s (issue 5)', value: round(dryRate, 0), met: dryRate >= 100_000 },
        {
          goal: 'dry run peak RSS ≤ 200 MB (issue 5)',
          value: round(dry.peakRssMb, 1),
          met: dry.peakRssMb <= 200,
        },
      ],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
