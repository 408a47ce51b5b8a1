import { terminalSafe } from '../../lib/core/terminal-text.ts';
import { PAUSABLE_QUEUES } from '../../lib/jobs/pipeline-queues.ts';
import type { Queues } from '../../lib/jobs/registry.ts';
import type { PipelinePauseStore } from '../../lib/store/pipeline-pause.ts';

/**
 * `pause` / `resume` (and the admin page's buttons): the whole fleet stops taking pipeline jobs and
 * starts again. The stop is BullMQ's queue pause on each pipeline queue: a flag in the queue's
 * Redis metadata that the script handing out jobs checks atomically, so no worker — one blocked
 * waiting for a job included, one started later included — takes a job while it is set, and every
 * worker sees it at once. Running jobs finish; what they hand on waits. Lifecycle queues (status
 * events, reminders, expiry, revocations) and the janitor go on: they are not run work, and a
 * paused status event would only make credential states late. `pipeline:pause` records who paused.
 */

export interface PauseDeps {
  queues: Queues;
  pipelinePause: PipelinePauseStore;
}

export interface PauseState {
  paused: boolean;
  /** Pipeline queues paused now (all of them after `pause`; a queue paused by hand shows here too). */
  pausedQueues: string[];
  since?: number;
  by?: string;
}

export async function pausePipeline(deps: PauseDeps, operator: string): Promise<PauseState> {
  // The record first: a pause cut short still shows who asked, and `pause` again completes it.
  await deps.pipelinePause.set(operator);
  await Promise.all(PAUSABLE_QUEUES.map((q) => deps.queues.get(q).pause()));
  return await pauseState(deps);
}

export async function resumePipeline(deps: PauseDeps): Promise<PauseState> {
  await Promise.all(PAUSABLE_QUEUES.map((q) => deps.queues.get(q).resume()));
  await deps.pipelinePause.clear();
  return await pauseState(deps);
}

export async function pauseState(deps: PauseDeps): Promise<PauseState> {
  const [record, flags] = await Promise.all([
    deps.pipelinePause.get(),
    Promise.all(PAUSABLE_QUEUES.map((q) => deps.queues.get(q).isPaused())),
  ]);
  const pausedQueues = PAUSABLE_QUEUES.filter((_, i) => flags[i]);
  return {
    paused: pausedQueues.length > 0,
    pausedQueues,
    ...(record ? { since: record.since, by: record.by } : {}),
  };
}

/** One line for `runs show` and the admin page. */
export function describePause(state: PauseState): string {
  if (!state.paused) return 'pipeline running';
  const since = state.since === undefined ? '' : ` since ${new Date(state.since).toISOString()}`;
  const by = state.by ? ` by ${terminalSafe(state.by)}` : '';
  const some =
    state.pausedQueues.length < PAUSABLE_QUEUES.length ? ` (queues ${state.pausedQueues.join(', ')})` : '';
  return `pipeline PAUSED${since}${by}${some}: no pipeline job is taken until \`resume\``;
}
