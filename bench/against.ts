import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BenchResult, round } from './common.ts';

/**
 * `npm run bench -- --against REF [--only overhead,peers] [--quick] [--rounds N]`: measures the same
 * benchmarks on commit REF and on HEAD in one run, alternating base and head round by round so both
 * see the same machine state, and prints head ÷ base for each throughput figure. Each side runs from
 * its own detached git worktree in a temp folder (sharing this checkout's node_modules), so only
 * committed code is compared and neither side writes into this tree.
 */

export interface AgainstOptions {
  ref: string;
  only: string[];
  quick: boolean;
  rounds: number;
  log(line: string): void;
}

interface SideRun {
  side: 'base' | 'head';
  round: number;
  figures: Record<string, number>;
}

export interface AgainstReport {
  base: { ref: string; commit: string };
  head: { commit: string };
  runs: SideRun[];
  /** figure → { base median, head median, head ÷ base } */
  comparison: Record<string, { base: number; head: number; ratio: number }>;
}

/** The throughput and memory figures worth comparing, flattened to `bench.path` → number. */
export function comparableFigures(result: BenchResult): Record<string, number> {
  const out: Record<string, number> = {};
  const pick = (path: string[], label: string) => {
    let v: unknown = result.figures;
    for (const p of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
    if (typeof v === 'number') out[`${result.name}.${label}`] = v;
  };
  if (result.name === 'overhead') {
    pick(['oneWorker', 'peoplePerSecond'], '1 worker people/s');
    pick(['twoWorkers', 'peoplePerSecond'], '2 workers people/s');
    pick(['rawBullmqChain', 'perSecond'], 'bare BullMQ chains/s (machine reference)');
    pick(['oursOverRawBullmq'], 'best of ours ÷ bare BullMQ chain (load-independent)');
    pick(['redisBytesPerWaitingPerson'], 'Redis bytes per waiting person (lower is better)');
  } else if (result.name === 'peers') {
    pick(['noRateLimit', 'ours', 'peoplePerSecond'], 'no limit: ours people/s');
    pick(['noRateLimit', 'plimit50', 'peoplePerSecond'], 'no limit: p-limit(50) people/s (reference)');
    pick(['noRateLimit', 'oursOverPlimit'], 'no limit: ours ÷ p-limit(50)');
    pick(['rateLimited', 'ours', 'requestsPerSecond'], 'limit 50: our req/s');
  } else if (result.name === 'ingest') {
    pick(['dryRun', 'rowsPerSecond'], 'dry run rows/s (tsx)');
    pick(['dryRunBuilt', 'rowsPerSecond'], 'dry run rows/s (built CLI)');
    pick(['dryRunBuilt', 'peakRssMb'], 'dry run peak RSS MB (built CLI; lower is better)');
    pick(['intoQueue', 'rowsPerSecond'], 'into queue rows/s');
    pick(['intoQueue', 'peakRssMb'], 'into queue peak RSS MB (tsx; lower is better)');
    pick(['intoQueue', 'redisBytesPerWaitingEntry'], 'into queue Redis B per entry (lower is better)');
  } else if (result.name === 'budget') {
    pick(['utilisation'], 'req/s ÷ budget');
    pick(['peoplePerSecond'], 'people/s at the budget');
  }
  return out;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function git(args: string[], cwd: string): string {
  return execFileSync('git', args, { cwd }).toString().trim();
}

async function worktreeAt(repo: string, ref: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'dfp-against-'));
  await rm(dir, { recursive: true, force: true });
  git(['worktree', 'add', '--detach', '--quiet', dir, ref], repo);
  await symlink(join(repo, 'node_modules'), join(dir, 'node_modules'));
  return {
    dir,
    async remove() {
      git(['worktree', 'remove', '--force', dir], repo);
    },
  };
}

function runBench(dir: string, only: string[], quick: boolean, log: (l: string) => void): Promise<void> {
  const args = ['tsx', 'bench/run.ts', '--only', only.join(','), ...(quick ? ['--quick'] : [])];
  return new Promise((resolvePromise, reject) => {
    const child = spawn('npx', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (b: Buffer) => {
      for (const line of b.toString().split('\n')) if (line.trim()) log(`    ${line}`);
    });
    child.stderr.on('data', (b: Buffer) => {
      for (const line of b.toString().split('\n')) if (line.trim()) log(`    ! ${line}`);
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolvePromise() : reject(new Error(`bench in ${dir} exited ${code}`)),
    );
  });
}

async function readResults(dir: string, only: string[], quick: boolean): Promise<BenchResult[]> {
  const file = join(dir, 'bench/results', `latest-${quick ? 'quick' : 'full'}-${only.join('+')}.json`);
  const report = JSON.parse(await readFile(file, 'utf8')) as { results: BenchResult[] };
  return report.results;
}

export async function benchAgainst(options: AgainstOptions): Promise<AgainstReport> {
  const repo = resolve(git(['rev-parse', '--show-toplevel'], process.cwd()));
  const baseCommit = git(['rev-parse', '--short', options.ref], repo);
  const headCommit = git(['rev-parse', '--short', 'HEAD'], repo);
  const base = await worktreeAt(repo, baseCommit);
  const head = await worktreeAt(repo, headCommit);
  const runs: SideRun[] = [];
  try {
    for (let round = 1; round <= options.rounds; round++) {
      // Alternate which side goes first, so neither always runs on a warmer (or hotter) machine.
      const order: ('base' | 'head')[] = round % 2 ? ['base', 'head'] : ['head', 'base'];
      for (const side of order) {
        const dir = side === 'base' ? base.dir : head.dir;
        options.log(`round ${round}: ${side} (${side === 'base' ? baseCommit : headCommit})`);
        if (!existsSync(join(dir, 'bench/run.ts'))) throw new Error(`${side} has no bench/run.ts`);
        await runBench(dir, options.only, options.quick, options.log);
        const figures: Record<string, number> = {};
        for (const r of await readResults(dir, options.only, options.quick)) {
          Object.assign(figures, comparableFigures(r));
        }
        runs.push({ side, round, figures });
      }
    }
  } finally {
    await base.remove();
    await head.remove();
  }
  const comparison: AgainstReport['comparison'] = {};
  const names = new Set(runs.flatMap((r) => Object.keys(r.figures)));
  for (const name of names) {
    const of = (side: 'base' | 'head') =>
      runs.filter((r) => r.side === side && name in r.figures).map((r) => r.figures[name]!);
    const b = of('base');
    const h = of('head');
    if (!b.length || !h.length) continue;
    const bm = median(b);
    const hm = median(h);
    // Ratios and fractions keep three decimals; rates and sizes one.
    const digits = Math.abs(bm) < 10 ? 3 : 1;
    comparison[name] = {
      base: round(bm, digits),
      head: round(hm, digits),
      ratio: round(bm ? hm / bm : 0, 3),
    };
  }
  return { base: { ref: options.ref, commit: baseCommit }, head: { commit: headCommit }, runs, comparison };
}
