import type { EntryDetail } from '../lib/store/runs.ts';
import { type DeliveryQueue, type PayloadInput, type StepFields, stepJobId } from '../lib/jobs/registry.ts';
import type { ProcessorDeps } from './context.ts';

/**
 * How an entry moves along the chain person → credential → hand-over → deliver: {@link advance}
 * records its progress in the run and adds the next step's job (job id from run, key and replay
 * generation, so adding twice is a no-op); {@link finish} ends it.
 */

/** The queues a pipeline step hands an entry on to. */
type NextStep = 'credential' | 'invitation' | DeliveryQueue;

export async function advance<Q extends NextStep>(
  deps: Pick<ProcessorDeps, 'runs' | 'queues'>,
  from: StepFields,
  next: Q,
  payload: PayloadInput<Q>,
  detail: EntryDetail,
): Promise<void> {
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
