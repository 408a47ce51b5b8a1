/**
 * CSV producer benchmark, in process: a roster CSV (default 1,000,000 rows, with quoted fields,
 * accents, national mobiles and SMS rows) generated to a temp file by a child process, then the
 * `import --dry-run` path (stream → csv-parse → header mapping → row validation → duplicate
 * detection → summary). Prints rows/s, rows per CPU-second (the box is shared: CPU time says what
 * an unshared core does), peak RSS, and csv-parse alone on the same file as the ceiling.
 * (`bench/ingest.ts` measures the same through the real CLI under /usr/bin/time.)
 *
 *   npx tsx bench/ingest-producer.ts [rows=1000000]
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse';
import { importCsv } from '../src/producers/csv-import.ts';

const rows = Number(process.argv[2] ?? 1_000_000);
// `--generate FILE`: the child that writes the CSV, so generating does not count in our RSS.
const generateOnly = process.argv[3] === '--generate' ? process.argv[4] : undefined;

async function generate(file: string): Promise<void> {
  const out = createWriteStream(file);
  const departments = ['Ops', 'Sales, EMEA', 'Research & Development', 'Logistik', 'Finance'];
  out.write('Employee ID,First Name,Last Name,Work Email,Mobile Phone,Department,Job Title,Delivery\n');
  for (let i = 0; i < rows; i += 1) {
    const dept = departments[i % departments.length] ?? 'Ops';
    const name = i % 10 === 0 ? 'Zoë' : `First${i}`;
    const line =
      `${String(i).padStart(7, '0')},${name},Last${i},user${i}@example.com,07700 ${String(i % 1_000_000).padStart(6, '0')},` +
      `${dept.includes(',') ? `"${dept}"` : dept},"Engineer, Level ${i % 5}",${i % 3 === 0 ? 'sms' : ''}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function parseOnly(file: string): Promise<number> {
  const parser = createReadStream(file, { highWaterMark: 256 * 1024 }).pipe(
    parse({ bom: true, relax_column_count: true }),
  );
  let n = 0;
  await new Promise<void>((resolve, reject) => {
    parser.on('readable', () => {
      while (parser.read() !== null) n += 1;
    });
    parser.on('end', resolve);
    parser.on('error', reject);
  });
  return n - 1;
}

async function main(): Promise<void> {
  if (generateOnly) {
    await generate(generateOnly);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'dfp-bench-producer-'));
  try {
    const file = join(dir, 'roster.csv');
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), String(rows), '--generate', file],
      { stdio: 'inherit' },
    );
    if (child.status !== 0) throw new Error('generating the CSV failed');
    const size = (await stat(file)).size;

    let peak = process.memoryUsage.rss();
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 50);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const summary = await importCsv(undefined, {
      file,
      delivery: 'doorflow',
      dryRun: true,
      defaultCountry: 'GB',
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage.rss());

    const p0 = performance.now();
    const pcpu0 = process.cpuUsage();
    const parsed = await parseOnly(file);
    const parseSeconds = (performance.now() - p0) / 1000;
    const pcpu = process.cpuUsage(pcpu0);

    console.log(
      JSON.stringify(
        {
          rows,
          fileMB: Math.round(size / 1e5) / 10,
          valid: summary.rows.valid,
          invalid: summary.rows.invalid,
          seconds: Math.round(seconds * 100) / 100,
          rowsPerSec: Math.round(rows / seconds),
          rowsPerCpuSec: Math.round(rows / ((cpu.user + cpu.system) / 1e6)),
          peakRssMB: Math.round(peak / 1e6),
          csvParseOnlyRowsPerSec: Math.round(parsed / parseSeconds),
          csvParseOnlyRowsPerCpuSec: Math.round(parsed / ((pcpu.user + pcpu.system) / 1e6)),
          loadAverage1m: Math.round((loadavg()[0] ?? 0) * 10) / 10,
          node: process.version,
        },
        null,
        2,
      ),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
