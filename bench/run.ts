/**
 * `npm run bench [-- --quick] [-- --only budget,peers]`: runs the benchmarks one after another in
 * one process (each with its own redis-server, simulator and worker processes), prints each goal
 * with its measured value and writes every figure to bench/results/<date>-<mode>.json and
 * bench/results/latest-<mode>.json (BENCHMARKS.md quotes them).
 * Benchmarks: budget, calls, peers, overhead, ingest, scale-out, prefetch, soak (`--people N --nights N`), run-views, accounts, accounts-scale.
 * `--against REF` measures the chosen benchmarks (default: overhead) on commit REF and on HEAD side by
 * side in one run and prints head ÷ base (bench/against.ts).
 * `--code-in-create` runs the simulator with its off-spec shortcut (the code on the create response).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { benchAgainst } from './against.ts';
import { accountsBench, accountsScaleBench } from './accounts.ts';
import { budgetBench } from './budget.ts';
import { callsBench } from './calls.ts';
import { type BenchOptions, type BenchResult, machine, round } from './common.ts';
import { ingestBench } from './ingest.ts';
import { overheadBench } from './overhead.ts';
import { peersBench } from './peers.ts';
import { runViewsBench } from './run-views.ts';
import { prefetchBench } from './prefetch.ts';
import { scaleOutBench } from './scale-out.ts';
import { soakBench } from './soak.ts';

const BENCHMARKS: Record<string, (o: BenchOptions) => Promise<BenchResult>> = {
  budget: budgetBench,
  calls: callsBench,
  peers: peersBench,
  overhead: overheadBench,
  ingest: ingestBench,
  'scale-out': scaleOutBench,
  prefetch: prefetchBench,
  soak: soakBench,
  'run-views': runViewsBench,
  accounts: accountsBench,
  'accounts-scale': accountsScaleBench,
};

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const codeInCreate = process.argv.includes('--code-in-create');
  const only = arg('--only')
    ?.split(',')
    .map((s) => s.trim());
  const names = only ?? Object.keys(BENCHMARKS);
  const unknown = names.filter((n) => !BENCHMARKS[n]);
  if (unknown.length) {
    console.error(
      `unknown benchmark(s) ${unknown.join(', ')}; choose from ${Object.keys(BENCHMARKS).join(', ')}`,
    );
    process.exit(2);
  }
  const startedAt = new Date();
  const t0 = Date.now();
  const log = (line: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);
  const against = arg('--against');
  if (against) {
    await compareAgainst(against, only ?? ['overhead'], quick, log, startedAt);
    return;
  }
  const info = machine();
  log(`bench ${quick ? 'quick' : 'full'}: ${names.join(', ')} — ${JSON.stringify(info)}`);
  const results: (BenchResult & { loadAverageAfter: number[] })[] = [];
  const errors: { name: string; error: string }[] = [];
  for (const name of names) {
    log(`▶ ${name}`);
    try {
      const result = await BENCHMARKS[name]!({ quick, codeInCreate, log });
      results.push({ ...result, loadAverageAfter: loadavg().map((n) => round(n, 2)) });
      for (const g of result.goals) log(`  ${g.met ? '✔' : '✘'} ${g.goal}: ${g.value}`);
    } catch (err) {
      const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      errors.push({ name, error });
      log(`  ✘ ${name} failed: ${error}`);
    }
  }
  const report = {
    command: `npm run bench${quick || only || codeInCreate ? ' --' : ''}${quick ? ' --quick' : ''}${only ? ` --only ${only.join(',')}` : ''}${codeInCreate ? ' --code-in-create' : ''}`,
    startedAt: startedAt.toISOString(),
    mode: quick ? 'quick' : 'full',
    simulator: codeInCreate ? 'code-in-create' : 'spec',
    machine: { ...info, loadAverageAtEnd: loadavg().map((n) => round(n, 2)) },
    results,
    errors,
  };
  await mkdir('bench/results', { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const body = `${JSON.stringify(report, null, 2)}\n`;
  const tag = only ? `${report.mode}-${only.join('+')}` : report.mode;
  await writeFile(`bench/results/${stamp}-${tag}.json`, body);
  await writeFile(`bench/results/latest-${tag}.json`, body);
  console.log('\nbenchmark   goal                                                   value        met');
  for (const r of results) {
    for (const g of r.goals) {
      console.log(
        `${r.name.padEnd(11)} ${g.goal.padEnd(54)} ${String(g.value).padEnd(12)} ${g.met ? 'yes' : 'NO'}`,
      );
    }
  }
  for (const e of errors) console.log(`${e.name.padEnd(11)} ERROR ${e.error.split('\n')[0]}`);
  process.exit(errors.length ? 1 : 0);
}

async function compareAgainst(
  ref: string,
  only: string[],
  quick: boolean,
  log: (line: string) => void,
  startedAt: Date,
): Promise<void> {
  const rounds = Number(arg('--rounds') ?? 2);
  log(`bench against ${ref}: ${only.join(', ')} (${quick ? 'quick' : 'full'}), ${rounds} round(s) per side`);
  const report = await benchAgainst({ ref, only, quick, rounds, log });
  const command = `npm run bench -- --against ${ref} --only ${only.join(',')}${quick ? ' --quick' : ''} --rounds ${rounds}`;
  await mkdir('bench/results', { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const body = `${JSON.stringify({ command, startedAt: startedAt.toISOString(), machine: machine(), ...report }, null, 2)}\n`;
  await writeFile(`bench/results/${stamp}-against-${report.base.commit}.json`, body);
  console.log(`\n${command}`);
  console.log(`${`figure (median of ${rounds})`.padEnd(70)}base        head        head ÷ base`);
  for (const [name, c] of Object.entries(report.comparison)) {
    console.log(`${name.padEnd(69)} ${String(c.base).padEnd(11)} ${String(c.head).padEnd(11)} ${c.ratio}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
