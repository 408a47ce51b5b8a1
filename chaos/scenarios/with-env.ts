import { type ChaosEnv, startChaosEnv } from '../harness.ts';
import { expectations, type ScenarioResult } from '../scenario.ts';

/**
 * Runs one scenario body in a fresh chaos environment: collects its expectations, lifts the
 * invariant report out of its figures, turns a throw into a failed result, and always closes.
 */
export async function runInChaosEnv(
  name: string,
  setup: Parameters<typeof startChaosEnv>[0],
  body: (env: ChaosEnv, expect: (ok: boolean, message: string) => void) => Promise<Record<string, unknown>>,
): Promise<ScenarioResult> {
  const started = Date.now();
  const { failures, expect } = expectations();
  let env: ChaosEnv | undefined;
  try {
    env = await startChaosEnv(setup);
    const figures = await body(env, expect);
    const invariants = figures.invariants as ScenarioResult['invariants'];
    delete figures.invariants;
    return {
      name,
      ok: failures.length === 0,
      durationMs: Date.now() - started,
      failures,
      figures,
      invariants,
    };
  } catch (err) {
    failures.push(err instanceof Error ? err.message : String(err));
    return { name, ok: false, durationMs: Date.now() - started, failures, figures: {} };
  } finally {
    await env?.close();
  }
}
