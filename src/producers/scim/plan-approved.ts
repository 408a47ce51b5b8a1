import type { ScimUserStore } from '../../lib/store/scim-users.ts';
import type { OpenedPlan } from '../sync/quarantine.ts';

/**
 * After `sync approve` applied a quarantined SCIM burst: the users it offboards become inactive in
 * the SCIM store, as the IdP asked, so `GET /Users` shows `active: false` with the run of the
 * approval. A rejected plan never comes here: those users stay as they were.
 */
export async function markScimPlanApproved(
  users: Pick<ScimUserStore, 'all' | 'put'>,
  opened: OpenedPlan,
  runId: string,
  now: number,
): Promise<number> {
  if (opened.summary.sourceName !== 'scim') return 0;
  const keys = new Set(opened.plan.offboard.map((o) => o.key));
  let marked = 0;
  for (const record of await users.all()) {
    if (!keys.has(record.key) || record.attributes.active === false) continue;
    await users.put({
      ...record,
      attributes: { ...record.attributes, active: false },
      lastModified: now,
      version: record.version + 1,
      runId,
    });
    marked += 1;
  }
  return marked;
}
