import { BATCH_QUEUE } from '../../lib/jobs/pipeline-queues.ts';
import { inBatch } from '../provision.ts';
import { parsePayload, stepJobId, type Queues } from '../../lib/jobs/registry.ts';
import type { CancelMark, RunCancelStore } from '../../lib/store/run-cancel.ts';
import type { RunRecord, RunStore } from '../../lib/store/runs.ts';

/**
 * `runs cancel` and the admin page's Cancel button: marks the run cancelled, removes the queued
 * (waiting or delayed) job of each entry still at a step and ends that entry `cancelled`. A job
 * that is running cannot be removed (BullMQ holds its lock): it finishes, and whatever it hands on
 * meets the cancel hook (hooks/run-cancel.ts) at the start of the next step, which ends the entry
 * without a DoorFlow call. The run finishes (`finishedAt`) once the last entry settles. It lives
 * beside the processors because it moves jobs; the store only keeps the mark.
 */

export interface CancelDeps {
  runs: RunStore;
  runCancels: RunCancelStore;
  queues: Queues;
}

export interface CancelResult {
  runId: string;
  /** `marked` the first time; a repeated cancel sweeps again (it may have been cut short). */
  mark: CancelMark;
  /** Queued jobs removed now (their entries ended `cancelled`). */
  removed: number;
  /** Entries left at a step: their job is running, or was not queued yet; the cancel hook ends them. */
  inFlight: number;
  run: RunRecord | undefined;
}

/** Entries removed concurrently per page: ioredis pipelines the calls on one connection. */
const PAGE = 500;

export async function cancelRun(deps: CancelDeps, runId: string, operator: string): Promise<CancelResult> {
  const mark = await deps.runCancels.mark(runId, operator);
  let removed = 0;
  let inFlight = 0;
  if (mark === 'marked' || mark === 'already_cancelled') {
    removed += await cancelQueuedBatches(deps, runId);
    for await (const page of deps.runCancels.entriesAtSteps(runId, PAGE)) {
      const results = await Promise.all(
        page.map(async ({ key, step }) => {
          // Replays (gen > 0) have other ids; the cancel hook ends those when they are taken.
          const gone = (await deps.queues.get(step).remove(stepJobId(runId, key))) === 1;
          if (gone)
            await deps.runs.move(runId, key, 'cancelled', { step, message: 'run cancelled while queued' });
          return gone;
        }),
      );
      for (const gone of results) {
        if (gone) removed++;
        else inFlight++;
      }
    }
    // Every entry may have settled before the mark (or the run had none): finish it now.
    await deps.runs.checkFinished(runId);
  }
  return { runId, mark, removed, inFlight, run: await deps.runs.get(runId) };
}

/**
 * First the run's queued batch jobs: a batch's id is its run id + first roster key, so each entry
 * still at `person` names the batch it may head. A batch removed before it ran ends its entries
 * that were still in it `cancelled`; a running one (BullMQ holds its lock) is left to its own
 * cancel check. Returns the entries ended.
 */
async function cancelQueuedBatches(deps: CancelDeps, runId: string): Promise<number> {
  const queue = deps.queues.get(BATCH_QUEUE);
  let ended = 0;
  for await (const page of deps.runCancels.entriesAtSteps(runId, PAGE)) {
    const counts = await Promise.all(
      page
        .filter(({ step }) => step === 'person')
        .map(async ({ key }) => {
          const id = stepJobId(runId, key);
          const job = await queue.getJob(id);
          if (!job || (await queue.remove(id)) !== 1) return 0;
          const keys = parsePayload(BATCH_QUEUE, job.data).entries.map((e) => e.key);
          const states = await deps.runs.entryStates(runId, keys);
          const moved = await Promise.all(
            keys.map((k, i) =>
              states[i] && inBatch(states[i])
                ? deps.runs.move(runId, k, 'cancelled', {
                    step: BATCH_QUEUE,
                    message: 'run cancelled while queued',
                  })
                : false,
            ),
          );
          return moved.filter(Boolean).length;
        }),
    );
    for (const n of counts) ended += n;
  }
  return ended;
}
