import type { EntryDetail } from '../lib/store/runs.ts';
import { type PayloadInput, type StepFields, stepJobId } from '../lib/jobs/registry.ts';
import type { JobContext, NextStep, ProcessorDeps } from './context.ts';

/**
 * How an entry moves along the chain person → credential → hand-over → deliver: {@link advance}
 * records its progress in the run and adds the next step's job (job id from run, key and replay
 * generation, so adding twice is a no-op); {@link finish} ends it. Inside a batch job (the job
 * context's `continueWith`, processors/provision.ts) the next step runs in the same process instead:
 * no job, and no intermediate move (the run shows the entry at its first step until it settles).
 */

export async function advance<Q extends NextStep>(
  deps: Pick<ProcessorDeps, 'runs' | 'queues'>,
  from: StepFields,
  next: Q,
  payload: PayloadInput<Q>,
  detail: EntryDetail,
  ctx: Pick<JobContext, 'continueWith'>,
): Promise<void> {
  if (ctx.continueWith) {
    ctx.continueWith(next, payload);
    return;
  }
  await deps.runs.move(from.runId, from.key, next, detail);
  await deps.queues.add(next, payload, { jobId: stepJobId(from.runId, from.key, from.gen) });
}

/** How an entry ends: we made its credential in this run, or it had one (or its delivery) already. */
export type Outcome = 'provisioned' | 'already_provisioned';

/** Ends the entry with its outcome; returns the outcome (a step's result). */
export async function finish(
  deps: Pick<ProcessorDeps, 'runs'>,
  p: StepFields & { personId: number; credentialId: string },
  outcome: Outcome,
  channel: string,
): Promise<Outcome> {
  await deps.runs.move(p.runId, p.key, outcome, {
    personId: p.personId,
    credentialId: p.credentialId,
    channel,
  });
  return outcome;
}
