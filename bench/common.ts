import { execFileSync } from 'node:child_process';
import { cpus, loadavg, setPriority, totalmem } from 'node:os';
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
 * Samples the simulator's request counter once a second to find when DoorFlow traffic ended, so a
 * rate is requests ÷ active seconds (from `startedAt`, when intake began and the first request is
 * sent, to the last change; the end is found up to one sample late, so rates err low). Sampling is
 * sparse on purpose: `stats()` runs inside the simulator's event loop, and a busy measuring server
 * stamps arrivals late and bunched.
 */
export function sampleRequests(sim: RunningSimulator, startedAt = Date.now(), everyMs = 1_000) {
  let last: number | undefined;
  const base = sim.stats().requestsTotal;
  let seen = base;
  const timer = setInterval(() => {
    const total = sim.stats().requestsTotal;
    if (total !== seen) {
      last = Date.now();
      seen = total;
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const total = sim.stats().requestsTotal - base;
      const seconds = last !== undefined ? (last - startedAt) / 1000 : 0;
      return { requests: total, activeSeconds: seconds, rate: seconds > 0 ? total / seconds : 0 };
    },
  };
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
