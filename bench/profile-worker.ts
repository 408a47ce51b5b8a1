/**
 * Profiling aid (not part of `npm run bench`): one worker process under `node --cpu-prof` against
 * an unlimited, zero-latency simulator, N people through the pipeline, then a summary of where
 * the worker spent its CPU (self time by function and by package). Usage:
 *   npx tsx bench/profile-worker.ts [people] [outDir]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChaosEnv } from '../chaos/harness.ts';
import { chaosRoster } from '../chaos/roster.ts';
import { BIN } from '../test/helpers/cli.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

async function main(): Promise<void> {
  const people = Number(process.argv[2] ?? 2000);
  const outDir = process.argv[3] ?? (await mkdtemp(join(tmpdir(), 'dfp-prof-')));
  const env = await startChaosEnv({
    env: {
      QUEUE_PREFIX: '{prof}',
      DOORFLOW_RATE_LIMIT: '10000',
      DOORFLOW_MAX_IN_FLIGHT: '100',
      WORKER_CONCURRENCY: '50',
    },
  });
  const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${outDir}`, BIN, 'worker'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DFP_USE_SOURCE: '1',
      ...env.env,
      LOG_LEVEL: 'info',
    } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await new Promise((r) => setTimeout(r, 8000));
    const started = Date.now();
    const run = await env.intake(chaosRoster(people), 'profile');
    await env.waitForRun(run.runId, 600_000);
    console.log(`${people} people in ${(Date.now() - started) / 1000} s`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    await env.close();
  }
  // tsx's loader runs in a worker thread with its own profile: the main thread's is the largest.
  const files = (await readdir(outDir)).filter((f) => f.endsWith('.cpuprofile'));
  const sized = await Promise.all(files.map(async (f) => ({ f, size: (await stat(join(outDir, f))).size })));
  const main = sized.sort((a, b) => b.size - a.size)[0]?.f;
  if (!main) throw new Error(`no profile written in ${outDir}`);
  const profile = JSON.parse(await readFile(join(outDir, main), 'utf8')) as {
    nodes: ProfileNode[];
  };
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  let total = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    total += hits;
    const url = n.callFrame.url;
    const pkg =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ??
      (url.includes('/src/') ? `src/${url.split('/src/')[1]}` : url || '(native)');
    const fn = `${n.callFrame.functionName || '(anon)'} ${pkg}:${n.callFrame.lineNumber}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + hits);
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + hits);
  }
  const top = (m: Map<string, number>, k: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, h]) => `${((100 * h) / total).toFixed(1).padStart(5)} %  ${name}`);
  console.log(`by package/file:\n${top(byPkg, 25).join('\n')}\n\nby function:\n${top(byFn, 30).join('\n')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
