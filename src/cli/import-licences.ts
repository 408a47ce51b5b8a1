import type { Pipeline } from '../app/pipeline.ts';
import type { Credential, Person } from '../lib/doorflow/types.ts';
import { countLiveHid, type Headroom, licenceHeadroom } from '../lib/ops/licence-headroom.ts';
import { type CsvImportOptions, rosterEntries } from '../producers/csv-import.ts';
import { buildSyncPlan } from '../producers/sync/plan.ts';

/**
 * `import`'s licence check, before the first write: how many of the roster's people would take a
 * new HID licence (the sync planner's count: people without a live HID credential) against the
 * headroom. Skipped (undefined) when no limit is known: no HID_LICENCE_LIMIT and none learned yet.
 */
export interface LicenceCheck {
  /** People of the roster who would take a licence. */
  need: number;
  headroom: Headroom;
}

export async function checkLicences(
  pipeline: Pipeline,
  options: CsvImportOptions,
): Promise<LicenceCheck | undefined> {
  const configured = pipeline.config.doorflow.licenceLimit;
  if (configured === undefined && (await pipeline.stores.licences.learned()) === undefined) return undefined;
  const doorflow = pipeline.doorflow();
  const hidCredentialTypeId = await doorflow.resolveHidCredentialTypeId();
  const credentials: Credential[] = [];
  for await (const c of doorflow.iterateCredentials(options.signal ? { signal: options.signal } : {}))
    credentials.push(c);
  const headroom = await licenceHeadroom(
    configured,
    pipeline.stores.licences,
    countLiveHid(credentials, hidCredentialTypeId),
  );
  if (!headroom) return undefined;
  const people: Person[] = [];
  for await (const p of doorflow.iteratePeople({}, options.signal ? { signal: options.signal } : {}))
    people.push(p);
  const plan = buildSyncPlan({
    roster: await rosterEntries(options),
    people,
    credentials,
    hidCredentialTypeId,
    scope: { managedIds: new Set() },
    sourceComplete: false,
  });
  return { need: plan.licences.consume, headroom };
}

/** The refusal, with the numbers. */
export function describeLicenceRefusal(check: LicenceCheck): string {
  const { need, headroom } = check;
  return (
    `REFUSED: ${need} people need a new HID licence, ${need - headroom.free} more than the ${headroom.free} free ` +
    `(limit ${headroom.limit}, ${headroom.live} live); nothing was written. ` +
    `--allow-partial imports anyway (${headroom.free} get passes, the rest are dead-lettered licence_limit); ` +
    '`reclaim --older-than 14d` frees unredeemed invitations'
  );
}
