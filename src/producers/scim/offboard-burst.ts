import type { Logger } from '../../lib/core/logger.ts';
import type { DeliveryChannelName } from '../../lib/delivery/channel-names.ts';
import { LIVE_CREDENTIAL_STATUSES } from '../../lib/doorflow/types.ts';
import type { Queues } from '../../lib/jobs/registry.ts';
import type { CredentialStore } from '../../lib/store/credentials.ts';
import type { HeldOffboard, ScimBurstStore } from '../../lib/store/scim-bursts.ts';
import type { SyncPlan } from '../sync/plan.ts';
import { amendPlan, openPlan, type QuarantineDeps, quarantinePlan } from '../sync/quarantine.ts';
import { ScimError } from './scim-error.ts';

/**
 * Where SCIM burst detection meets plan quarantine: a burst of deactivations over the sync safety
 * threshold comes here with every offboard it held (their `offboard` jobs delayed by the burst
 * window, none applied). The held jobs are withdrawn and the burst becomes one quarantined plan of
 * source `scim` (`sync plans|approve|reject`, /admin/plans), notified like a sync's. A burst that
 * goes on grows that plan; a retried deactivation finds it (`scim:quarantined`), so neither makes
 * a second plan or lists anyone twice. The request is answered 403 naming the plan: the IdP shows
 * the failure to its admin, and a retry changes nothing until an operator decides.
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
  quarantine: QuarantineDeps;
  bursts: ScimBurstStore;
  credentials: Pick<CredentialStore, 'ofPerson' | 'get'>;
  /** The channel the approval's run is recorded with (offboards deliver nothing). */
  delivery: DeliveryChannelName;
}

type PlannedOffboard = SyncPlan['offboard'][number];

/** The 403 a deactivation waiting in plan `planId` is answered with. */
export function quarantinedError(planId: string, detail: string): ScimError {
  return new ScimError(
    403,
    `${detail}; the deactivation waits in quarantined plan ${planId} until an operator approves it ` +
      `(sync approve ${planId}) or rejects it (sync reject ${planId}); docs/scim.md`,
  );
}

function refusal(count: number, burst: OffboardBurst): string {
  return (
    `${count} deactivations in one burst exceed the offboarding safety threshold of ${burst.threshold} ` +
    `for ${burst.population} active SCIM users`
  );
}

/** The burst as a sync plan that only offboards (what `sync approve` applies). */
function burstPlan(burst: OffboardBurst, offboard: PlannedOffboard[]): SyncPlan {
  return {
    create: [],
    update: [],
    offboard,
    unchanged: 0,
    alreadyOffboarded: 0,
    keptInvalid: 0,
    licences: { consume: 0, release: offboard.reduce((n, o) => n + o.credentialIds.length, 0) },
    counts: {
      source: burst.population,
      active: Math.max(0, burst.population - offboard.length),
      inactive: offboard.length,
      scope: burst.population,
      previous: undefined,
    },
    safety: {
      ok: false,
      forced: false,
      maxOffboard: burst.threshold,
      refusals: [refusal(offboard.length, burst)],
    },
  };
}

/** The live HID credentials our store knows for the person (what the drift check compares). */
async function planned(deps: OffboardBurstDeps, held: HeldOffboard): Promise<PlannedOffboard> {
  const credentialIds: string[] = [];
  for (const id of await deps.credentials.ofPerson(held.personId)) {
    const status = (await deps.credentials.get(id))?.status;
    if (status && LIVE_CREDENTIAL_STATUSES.has(status)) credentialIds.push(id);
  }
  return {
    personId: held.personId,
    key: held.key,
    name: held.key,
    credentialIds,
    disable: true,
    reason: 'inactive',
  };
}

/** The burst's plan still in quarantine, if an earlier request of it made one. */
async function existingPlan(deps: OffboardBurstDeps, burst: OffboardBurst) {
  for (const held of burst.offboards) {
    const id = await deps.bursts.planOf(held.scimId);
    const opened = id ? await openPlan(deps.quarantine, id) : undefined;
    if (opened?.summary.sourceName === 'scim') return opened;
  }
  return undefined;
}

export async function quarantineOffboardBurst(deps: OffboardBurstDeps, burst: OffboardBurst): Promise<never> {
  const queue = deps.queues.get('offboard');
  // Held jobs are delayed, so removing them means they never ran. One a worker already took (a
  // burst longer than its window) cannot be withdrawn: it stays out of the plan.
  const waiting: HeldOffboard[] = [];
  for (const held of burst.offboards) {
    const removed = await queue.remove(held.jobId).catch(() => 0);
    if (removed === 1 || (await queue.getJob(held.jobId)) === undefined) waiting.push(held);
  }
  const apply = { sourceId: 'scim', delivery: deps.delivery, sourceComplete: false };
  const existing = await existingPlan(deps, burst);
  let planId: string | undefined;
  let count = 0;
  if (existing) {
    const known = new Set(existing.plan.offboard.map((o) => o.personId));
    const added = await Promise.all(
      waiting.filter((h) => !known.has(h.personId)).map((h) => planned(deps, h)),
    );
    const offboard = [...existing.plan.offboard, ...added];
    count = offboard.length;
    const same = added.length === 0;
    if (
      same ||
      (await amendPlan(
        deps.quarantine,
        existing.summary.id,
        { sourceName: 'scim', plan: burstPlan(burst, offboard), apply },
        existing.summary.quarantinedAt,
      ))
    )
      planId = existing.summary.id;
  }
  if (planId === undefined) {
    const offboard = await Promise.all(waiting.map((h) => planned(deps, h)));
    count = offboard.length;
    const summary = await quarantinePlan(deps.quarantine, {
      sourceName: 'scim',
      plan: burstPlan(burst, offboard),
      apply,
    });
    planId = summary.id;
  }
  await deps.bursts.markQuarantined(
    planId,
    waiting.map((h) => h.scimId),
  );
  deps.logger.warn(
    {
      runId: burst.runId,
      planId,
      offboards: count,
      threshold: burst.threshold,
      population: burst.population,
      alreadyApplied: burst.offboards.length - waiting.length,
    },
    'SCIM deactivation burst over the safety threshold: quarantined, its held offboards withdrawn',
  );
  throw quarantinedError(planId, refusal(count, burst));
}
