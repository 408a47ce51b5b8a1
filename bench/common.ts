import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import type { RunningSimulator } from '../src/simulator/index.ts';

/** Shared bits of the benchmarks: machine facts, a request-rate sampler, rounding. */

export interface BenchOptions {
  quick: boolean;
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
 * Samples the simulator's request counter to find when DoorFlow traffic really started and ended,
 * so a rate is requests ÷ active seconds (set-up and drain excluded).
 */
export function sampleRequests(sim: RunningSimulator, everyMs = 200) {
  let first: number | undefined;
  let last: number | undefined;
  let seen = sim.stats().requestsTotal;
  const base = seen;
  const timer = setInterval(() => {
    const total = sim.stats().requestsTotal;
    if (total !== seen) {
      first ??= Date.now() - everyMs / 2;
      last = Date.now();
      seen = total;
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const total = sim.stats().requestsTotal - base;
      const seconds = first !== undefined && last !== undefined ? (last - first) / 1000 : 0;
      return { requests: total, activeSeconds: seconds, rate: seconds > 0 ? total / seconds : 0 };
    },
  };
}
