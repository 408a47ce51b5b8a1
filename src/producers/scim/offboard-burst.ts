import type { Logger } from '../../lib/core/logger.ts';
import type { Queues } from '../../lib/jobs/registry.ts';
import type { HeldOffboard } from '../../lib/store/scim-bursts.ts';
import { ScimError } from './scim-error.ts';

/**
 * THE SEAM between SCIM burst detection and plan quarantine: a burst of deactivations over the
 * sync safety threshold comes here with every offboard it planned, none of them applied yet
 * (their `offboard` jobs were held, delayed by the burst window). Today the burst is refused: the
 * held jobs are withdrawn, the refusal is logged, and the request is answered 403 with a SCIM
 * error. Plan quarantine (`sync plans/approve/reject`) replaces the body of this one function.
 */

export interface OffboardBurst {
  runId: string;
  /** Every deactivation the burst holds (each SCIM user once), the refused request's included. */
  offboards: readonly HeldOffboard[];
  /** The most the sync safety rule allows at once for this population. */
  threshold: number;
  /** SCIM users known (the population the threshold was computed from). */
  population: number;
}

export interface OffboardBurstDeps {
  queues: Queues;
  logger: Logger;
}

export async function refuseOffboardBurst(deps: OffboardBurstDeps, burst: OffboardBurst): Promise<never> {
  const queue = deps.queues.get('offboard');
  // Held jobs are delayed, so removing them means they never ran. One a worker already took (a
  // burst longer than its window) cannot be withdrawn: it is counted as applied in the log line.
  let applied = 0;
  for (const held of burst.offboards) {
    const removed = await queue.remove(held.jobId).catch(() => 0);
    if (removed === 0 && (await queue.getJob(held.jobId)) !== undefined) applied += 1;
  }
  deps.logger.warn(
    {
      runId: burst.runId,
      offboards: burst.offboards.length,
      threshold: burst.threshold,
      population: burst.population,
      alreadyApplied: applied,
    },
    'SCIM deactivation burst over the safety threshold: refused, its held offboards withdrawn',
  );
  const outcome =
    applied === 0
      ? 'none was applied'
      : `${burst.offboards.length - applied} were withdrawn, ${applied} had run`;
  throw new ScimError(
    403,
    `${burst.offboards.length} deactivations in one burst exceed the offboarding safety threshold of ` +
      `${burst.threshold}; ${outcome} and an operator must review them (docs/scim.md)`,
  );
}
