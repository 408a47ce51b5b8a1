import type { InvariantReport } from './invariants.ts';

/** What every chaos scenario reports; `npm run chaos` writes these to chaos/results/. */
export interface ScenarioResult {
  name: string;
  ok: boolean;
  durationMs: number;
  /** Scenario-specific figures (counts, rates, timings). */
  figures: Record<string, unknown>;
  invariants?: InvariantReport;
  /** Why the scenario failed, when it did. */
  failures: string[];
}

export interface ScenarioOptions {
  /** Reduced sizes (a few minutes for the whole suite). */
  quick: boolean;
  log(line: string): void;
}

export interface Scenario {
  name: string;
  title: string;
  run(options: ScenarioOptions): Promise<ScenarioResult>;
}

/** A random whole number of ms in [min, max]. */
export function between(min: number, max: number, random: () => number = Math.random): number {
  return Math.round(min + (max - min) * random());
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Collects failed expectations without throwing, so a scenario reports all of them. */
export function expectations() {
  const failures: string[] = [];
  return {
    failures,
    expect(ok: boolean, message: string) {
      if (!ok) failures.push(message);
    },
  };
}
