import type { RunRecord, RunStore } from '../lib/store/runs.ts';

/**
 * Backpressure for intake: a run may keep at most `window` unsettled entries in Redis (a waiting
 * job costs ~0.9 KB; a 1,000,000-row onboarding must not park ~1 GB). The DoorFlow budget, not the
 * queue, sets the pace, so the producer waits for the pipeline to drain before adding more.
 */

/** Default `--window`. */
export const DEFAULT_WINDOW = 20_000;

/** Entries registered in the run that are not yet provisioned, invalid, cancelled or dead. */
export function outstandingEntries(run: RunRecord): number {
  const settled =
    (run.counts.provisioned ?? 0) +
    (run.counts.already_provisioned ?? 0) +
    (run.counts.invalid ?? 0) +
    (run.counts.cancelled ?? 0) +
    run.dead;
  return Math.max(0, run.total - settled);
}

/**
 * Resolves once the run has at most `window` outstanding entries. Polls the run record (one
 * HGETALL), backing off from 50 ms to 1 s while the pipeline is busy. Rejects when aborted.
 */
export async function waitForWindow(
  runs: RunStore,
  runId: string,
  window: number,
  options: { signal?: AbortSignal | undefined; onWait?: (outstanding: number) => void } = {},
): Promise<number> {
  let delay = 50;
  for (;;) {
    options.signal?.throwIfAborted();
    const run = await runs.get(runId);
    const outstanding = run ? outstandingEntries(run) : 0;
    if (outstanding <= window) return outstanding;
    options.onWait?.(outstanding);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(done, delay);
      function done() {
        options.signal?.removeEventListener('abort', abort);
        resolve();
      }
      function abort() {
        clearTimeout(timer);
        reject(options.signal?.reason ?? new Error('aborted'));
      }
      options.signal?.addEventListener('abort', abort, { once: true });
    });
    delay = Math.min(1_000, delay * 2);
  }
}
