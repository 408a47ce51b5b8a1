import { execFileSync } from 'node:child_process';
import { cpus, loadavg, setPriority, totalmem } from 'node:os';

/** Shared bits of the benchmarks: machine facts, a request-rate sampler, rounding. */

export interface BenchOptions {
  quick: boolean;
  /**
   * `--code-in-create`: the simulator's off-spec shortcut (the invitation code on the create
   * response). Default off: the code only on GET of one credential, as DoorFlow documents it.
   */
  codeInCreate?: boolean;
  log(line: string): void;
}

/** One benchmark's outcome: figures plus goals checked against them. */
export interface BenchResult {
  name: string;
  figures: Record<string, unknown>;
  goals: { goal: string; value: number | string; met: boolean }[];
  durationMs: number;
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function machine() {
  return {
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    redis: execFileSync('redis-server', ['--version']).toString().trim(),
    loadAverage: loadavg().map((n) => round(n, 2)),
    ...gitState(),
  };
}

/** The commit measured, and source files with uncommitted changes (others' work in progress). */
export function gitState(): { commit: string; dirtySourceFiles: string[] } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD']).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', 'src'])
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3));
    return { commit, dirtySourceFiles: dirty };
  } catch {
    return { commit: 'unknown', dirtySourceFiles: [] };
  }
}

/**
 * Lowers the scheduling priority of our processes (workers, peer scripts) so the simulator — the
 * server being measured, which in real life runs on DoorFlow's machines — is not starved on a
 * 2-core box and stamps arrivals when they happen.
 */
export function yieldToSimulator(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    setPriority(pid, 10);
  } catch {
    // Not permitted here: measure anyway.
  }
}
