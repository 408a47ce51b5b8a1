import { randomBytes } from 'node:crypto';
import type { Clock } from '../../lib/core/clock.ts';
import { decryptSecret, encryptSecret } from '../../lib/core/crypto.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { DeliveryChannelName } from '../../lib/delivery/channel-names.ts';
import type { Credential, Person } from '../../lib/doorflow/types.ts';
import { LIVE_CREDENTIAL_STATUSES } from '../../lib/doorflow/types.ts';
import type { AuditLog } from '../../lib/store/audit-log.ts';
import type { PlanSummary, StoredPlan, SyncPlanStore } from '../../lib/store/sync-plans.ts';
import type { SyncRunStore } from '../../lib/store/sync-runs.ts';
import type { SyncPlan } from './plan.ts';

/**
 * Quarantine of plans a safety check stopped — the service `sync` and a SCIM burst call with
 * their plan ({@link quarantinePlan}), and `sync plans|approve|reject` and `/admin/plans` act on
 * (`listPlans`, `openPlan`, {@link takeForApproval}, {@link rejectPlan}). The diff holds people's
 * names, so it is sealed with ENCRYPTION_KEY when one is set (as the roster emails are) and goes
 * with PLAN_RETENTION (the janitor). Approving applies exactly the stored plan, after checking that
 * DoorFlow still looks the way the plan saw it.
 */

export interface QuarantineDeps {
  plans: SyncPlanStore;
  /** The plan history per source name. */
  syncRuns: Pick<SyncRunStore, 'addHistory'>;
  encryptionKey: Buffer | undefined;
  clock: Clock;
  logger: Logger;
  /** Sends the `sync.plan_quarantined` notice (NOTIFY_WEBHOOK_URL); never throws. */
  notify(summary: PlanSummary): Promise<unknown>;
}

/** How a quarantined plan is applied once approved. */
export interface PlanApplyOptions {
  /** The run's source (`csv:/data/staff.csv`, `scim`): shown by `runs`, guards `--out`. */
  sourceId: string;
  delivery: DeliveryChannelName;
  /** Whether the source was read completely (then its row count becomes the "previous" count). */
  sourceComplete: boolean;
}

/** What a caller (sync, a SCIM burst) quarantines. */
export interface QuarantineRequest {
  /** The name its safety checks and history are kept under (`csv`, `bamboohr:acme`, `scim`). */
  sourceName: string;
  plan: SyncPlan;
  apply: PlanApplyOptions;
}

interface PlanBody {
  plan: SyncPlan;
  apply: PlanApplyOptions;
}

/** `p` + time + random: sortable, unguessable enough for a URL, no personal data. */
function planId(now: number): string {
  return `p${new Date(now).toISOString().replace(/\D/g, '').slice(0, 14)}-${randomBytes(4).toString('hex')}`;
}

function summaryOf(id: string, request: QuarantineRequest, at: number): PlanSummary {
  const { plan } = request;
  return {
    id,
    sourceName: request.sourceName,
    sourceId: request.apply.sourceId,
    quarantinedAt: at,
    refusals: [...plan.safety.refusals],
    counts: {
      create: plan.create.length,
      update: plan.update.length,
      offboard: plan.offboard.length,
      unchanged: plan.unchanged,
      source: plan.counts.source,
      scope: plan.counts.scope,
      consume: plan.licences.consume,
      release: plan.licences.release,
    },
    ...(plan.licences.headroom ? { headroom: plan.licences.headroom.free } : {}),
  };
}

function stored(key: Buffer | undefined, summary: PlanSummary, request: QuarantineRequest): StoredPlan {
  const json = JSON.stringify({ plan: request.plan, apply: request.apply } satisfies PlanBody);
  return { ...summary, body: key ? encryptSecret(key, json) : json, sealed: key !== undefined };
}

/**
 * Rewrites quarantined plan `id` with a grown plan (a SCIM burst that goes on after it was
 * quarantined), keeping its id and time; false when it was approved or rejected meanwhile.
 */
export async function amendPlan(
  deps: Pick<QuarantineDeps, 'plans' | 'encryptionKey'>,
  id: string,
  request: QuarantineRequest,
  quarantinedAt: number,
): Promise<boolean> {
  return deps.plans.replace(stored(deps.encryptionKey, summaryOf(id, request, quarantinedAt), request));
}

/** Stores the plan with its full diff, records it in the source's history and notifies. */
export async function quarantinePlan(deps: QuarantineDeps, request: QuarantineRequest): Promise<PlanSummary> {
  const at = deps.clock.now();
  const summary = summaryOf(planId(at), request, at);
  await deps.plans.put(stored(deps.encryptionKey, summary, request));
  await deps.syncRuns.addHistory(request.sourceName, {
    at,
    outcome: 'quarantined',
    planId: summary.id,
    source: summary.counts.source,
    create: summary.counts.create,
    update: summary.counts.update,
    offboard: summary.counts.offboard,
  });
  deps.logger.warn(
    { planId: summary.id, sourceName: summary.sourceName, refusals: summary.refusals },
    'sync plan quarantined: approve or reject it (sync plans)',
  );
  await deps.notify(summary);
  return summary;
}

/** An opened plan: its summary and its diff. */
export interface OpenedPlan {
  summary: PlanSummary;
  plan: SyncPlan;
  apply: PlanApplyOptions;
}

function open(stored: StoredPlan, key: Buffer | undefined): OpenedPlan {
  const { body, sealed, ...summary } = stored;
  if (sealed && !key) throw new Error(`plan ${stored.id} is sealed: ENCRYPTION_KEY is needed to read it`);
  const parsed = JSON.parse(sealed && key ? decryptSecret(key, body) : body) as PlanBody;
  return { summary, plan: parsed.plan, apply: parsed.apply };
}

/** The plan with its diff, or undefined when there is no such quarantined plan. */
export async function openPlan(
  deps: Pick<QuarantineDeps, 'plans' | 'encryptionKey'>,
  id: string,
): Promise<OpenedPlan | undefined> {
  const stored = await deps.plans.get(id);
  return stored ? open(stored, deps.encryptionKey) : undefined;
}

/** How DoorFlow moved since the plan was made: the planned changes that no longer fit. */
export interface PlanDrift {
  /** Planned offboards whose person is gone, already offboarded or holds other credentials now. */
  offboard: number;
  /** Planned joiners who hold a live HID credential now. */
  create: number;
  /** Planned updates whose person is gone. */
  update: number;
}

/** Compares the plan with DoorFlow's people and credentials now. */
export function planDrift(
  plan: SyncPlan,
  people: readonly Person[],
  credentials: readonly Credential[],
  hidTypeId: number,
): PlanDrift {
  const byId = new Map(people.map((p) => [p.id, p]));
  const live = new Map<number, Set<string>>();
  for (const c of credentials) {
    if (c.credential_type_id !== hidTypeId || !LIVE_CREDENTIAL_STATUSES.has(String(c.status ?? 'invited')))
      continue;
    live.set(c.person_id, (live.get(c.person_id) ?? new Set()).add(c.id));
  }
  const sameSet = (a: Set<string> | undefined, b: readonly string[]) =>
    (a?.size ?? 0) === b.length && b.every((id) => a?.has(id));
  const offboard = plan.offboard.filter((o) => {
    const person = byId.get(o.personId);
    return (
      !person || (person.enabled !== false) !== o.disable || !sameSet(live.get(o.personId), o.credentialIds)
    );
  }).length;
  const create = plan.create.filter((c) => c.personId !== undefined && live.has(c.personId)).length;
  const update = plan.update.filter((u) => !byId.has(u.personId)).length;
  return { offboard, create, update };
}

/** One line with the numbers, or undefined when nothing drifted. */
export function describeDrift(plan: SyncPlan, drift: PlanDrift): string | undefined {
  const parts = [
    drift.offboard ? `${drift.offboard} of ${plan.offboard.length} offboards` : '',
    drift.create ? `${drift.create} of ${plan.create.length} creates` : '',
    drift.update ? `${drift.update} of ${plan.update.length} updates` : '',
  ].filter((p) => p !== '');
  if (parts.length === 0) return undefined;
  return `DoorFlow has changed since the plan was made: ${parts.join(', ')} no longer match it; reject it and sync again`;
}

/** Who approved or rejected, for the audit log. */
export interface PlanDecider {
  actor: string;
  operator: string;
}

async function auditDecision(
  audit: AuditLog | undefined,
  action: 'sync.plan.approve' | 'sync.plan.reject',
  summary: PlanSummary,
  who: PlanDecider,
  runId?: string,
): Promise<void> {
  await audit?.record({
    actor: who.actor,
    operator: who.operator,
    action,
    targetType: 'plan',
    targetId: summary.id,
    ...(runId ? { runId } : {}),
    after: { sourceName: summary.sourceName, ...summary.counts },
  });
}

/**
 * Takes an approved plan out of quarantine (once: a second approval finds nothing) after the drift
 * check; the caller applies it (producers/sync/sync.ts `approvePlan`).
 */
export async function takeForApproval(
  deps: Pick<QuarantineDeps, 'plans' | 'encryptionKey'>,
  id: string,
  current: { people: readonly Person[]; credentials: readonly Credential[]; hidTypeId: number },
): Promise<{ opened: OpenedPlan; drift?: string } | undefined> {
  const opened = await openPlan(deps, id);
  if (!opened) return undefined;
  const drift = describeDrift(
    opened.plan,
    planDrift(opened.plan, current.people, current.credentials, current.hidTypeId),
  );
  if (drift) return { opened, drift };
  return (await deps.plans.take(id)) ? { opened } : undefined;
}

/** Records an applied approval: audit (who) and the source's history. */
export async function recordApproval(
  deps: Pick<QuarantineDeps, 'syncRuns' | 'clock'> & { audit?: AuditLog | undefined },
  opened: OpenedPlan,
  who: PlanDecider,
  runId: string,
): Promise<void> {
  await auditDecision(deps.audit, 'sync.plan.approve', opened.summary, who, runId);
  await deps.syncRuns.addHistory(opened.summary.sourceName, {
    at: deps.clock.now(),
    outcome: 'approved',
    planId: opened.summary.id,
    runId,
    ...pickCounts(opened.summary),
  });
}

function pickCounts(s: PlanSummary) {
  return {
    source: s.counts.source,
    create: s.counts.create,
    update: s.counts.update,
    offboard: s.counts.offboard,
  };
}

/** Drops a quarantined plan (DoorFlow untouched); undefined when there was none. */
export async function rejectPlan(
  deps: Pick<QuarantineDeps, 'plans' | 'syncRuns' | 'clock'> & { audit?: AuditLog | undefined },
  id: string,
  who: PlanDecider,
): Promise<PlanSummary | undefined> {
  const taken = await deps.plans.take(id);
  if (!taken) return undefined;
  const { body: _body, sealed: _sealed, ...summary } = taken;
  await auditDecision(deps.audit, 'sync.plan.reject', summary, who);
  await deps.syncRuns.addHistory(summary.sourceName, {
    at: deps.clock.now(),
    outcome: 'rejected',
    planId: summary.id,
    ...pickCounts(summary),
  });
  return summary;
}
