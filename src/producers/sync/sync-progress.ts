import type { SyncDeps } from './sync.ts';

/**
 * Following an applied sync until it settles (`sync --wait`, tests, the soak): the pipeline run
 * plus the offboard and re-enable side jobs it planned.
 */

/** Where an applied sync stands: the pipeline run plus the offboarding side jobs. */
export interface SyncProgress {
  runFinished: boolean;
  offboardPlanned: number;
  offboarded: number;
  reenablePlanned: number;
  reenabled: number;
  /** Offboard/re-enable jobs that failed for good (see `dlq list --step offboard`). */
  failed: number;
  done: boolean;
}

async function syncProgress(deps: SyncDeps, runId: string): Promise<SyncProgress> {
  const run = await deps.intake.runs.get(runId);
  const h = await deps.syncRuns.counters(runId);
  const num = (v: string | undefined) => Number(v ?? 0);
  const queue = deps.intake.queues.get('offboard');
  const failed = (await queue.getFailed(0, 999)).filter(
    (j) => (j?.data as { runId?: string })?.runId === runId,
  ).length;
  const progress: SyncProgress = {
    runFinished: run?.finishedAt !== undefined,
    offboardPlanned: num(h.offboardPlanned),
    offboarded: num(h.offboarded) + num(h.gone),
    reenablePlanned: num(h.reenablePlanned),
    reenabled: num(h.reenabled),
    failed,
    done: false,
  };
  progress.done =
    progress.runFinished &&
    progress.offboarded + progress.reenabled + failed >= progress.offboardPlanned + progress.reenablePlanned;
  return progress;
}

/** Polls until the sync's run and side jobs are settled. */
export async function waitForSync(
  deps: SyncDeps,
  runId: string,
  options: { pollMs?: number; signal?: AbortSignal | undefined; onPoll?: (p: SyncProgress) => void } = {},
): Promise<SyncProgress> {
  for (;;) {
    options.signal?.throwIfAborted();
    const progress = await syncProgress(deps, runId);
    options.onPoll?.(progress);
    if (progress.done) return progress;
    await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
  }
}
