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
  // Held jobs are delayed, so removing them means they never ran; one already taken is gone.
  for (const held of burst.offboards) await queue.remove(held.jobId);
  deps.logger.warn(
    {
      runId: burst.runId,
      offboards: burst.offboards.length,
      threshold: burst.threshold,
      population: burst.population,
    },
    'SCIM deactivation burst over the safety threshold: refused, nothing offboarded',
  );
  throw new ScimError(
    403,
    `${burst.offboards.length} deactivations in one burst exceed the offboarding safety threshold of ` +
      `${burst.threshold}; none was applied and an operator must review them (docs/scim.md)`,
  );
}
