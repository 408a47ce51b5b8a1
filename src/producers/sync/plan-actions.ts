import type { PlanSummary } from '../../lib/store/sync-plans.ts';
import { type OpenedPlan, openPlan, type PlanDecider, rejectPlan } from './quarantine.ts';
import { type ApprovalResult, approvePlan, type SyncDeps } from './sync.ts';

/**
 * What an operator can do with quarantined plans, in one object for the two front ends (`sync
 * plans|approve|reject` and `/admin/plans`), so both apply and audit them the same way.
 */
export interface PlanActions {
  list(): Promise<PlanSummary[]>;
  open(id: string): Promise<OpenedPlan | undefined>;
  approve(id: string, who: PlanDecider): Promise<ApprovalResult>;
  reject(id: string, who: PlanDecider): Promise<PlanSummary | undefined>;
}

export function planActions(
  deps: SyncDeps & { quarantine: NonNullable<SyncDeps['quarantine']> },
): PlanActions {
  const { quarantine } = deps;
  return {
    list: () => quarantine.plans.list(),
    open: (id) => openPlan(quarantine, id),
    approve: (id, who) => approvePlan(deps, id, who),
    reject: (id, who) => rejectPlan({ ...quarantine, audit: deps.audit }, id, who),
  };
}

/** Plan actions built on first use (`serve` opens the DoorFlow client only when a plan is approved). */
export function lazyPlanActions(make: () => PlanActions): PlanActions {
  let actions: PlanActions | undefined;
  const get = () => {
    actions ??= make();
    return actions;
  };
  return {
    list: () => get().list(),
    open: (id) => get().open(id),
    approve: (id, who) => get().approve(id, who),
    reject: (id, who) => get().reject(id, who),
  };
}
