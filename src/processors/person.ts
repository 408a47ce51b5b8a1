import { DoorFlowError, ProvisionerError } from '../lib/core/errors.ts';
import { type KnownPerson, type PersonSnapshot, snapshotOf } from '../lib/store/people-index.ts';
import { defineProcessor } from '../lib/jobs/define-processor.ts';
import { type PersonPayload, stepFields } from '../lib/jobs/registry.ts';
import { tryLock } from '../lib/core/locks.ts';
import { encryptSecret } from '../lib/core/crypto.ts';
import { doorflowGetsEmail, lookupSystemId } from '../lib/roster/email-policy.ts';
import { advance } from './advance.ts';
import { contentionDelayMs, type JobContext, lockTtlMs, type ProcessorDeps } from './context.ts';
import {
  chooseExisting,
  exactEmailMatches,
  exactSystemIdMatches,
  fieldsToUpdate,
  personInputFor,
} from './person-match.ts';

/**
 * Step 1: find or create the DoorFlow person for a roster entry, never two people for one key.
 * Order: what we already mapped for this key → the run's prefetched index (or a remote lookup by
 * system_id, then exact email) → create. A create whose response was lost leaves a pending mark,
 * so the retry looks up before creating again. PUT only when a mapped field differs.
 */

interface PersonResult {
  personId: number;
  created: boolean;
  updated: boolean;
}

export const personProcessor = defineProcessor('person', handle);

async function handle(p: PersonPayload, deps: ProcessorDeps, ctx: JobContext): Promise<PersonResult> {
  const release = await tryLock(deps.redis, deps.keys.personLock(p.key), ctx.jobId, lockTtlMs(deps.config));
  if (!release) throw await ctx.delay(contentionDelayMs());
  let result: PersonResult;
  try {
    result = await settlePerson(p, deps, ctx);
    await keepContact(p, deps, result.personId);
  } finally {
    await release();
  }
  await advance(
    deps,
    p,
    'credential',
    { ...stepFields(p), personId: result.personId, personCreated: result.created },
    { personId: result.personId },
    ctx,
  );
  return result;
}

/**
 * With the email withheld from DoorFlow, reminders and reissues by email (which re-read the
 * person) still need the roster's address: kept encrypted per person (people-index.ts).
 */
async function keepContact(p: PersonPayload, deps: ProcessorDeps, personId: number): Promise<void> {
  const key = deps.config.encryptionKey;
  if (doorflowGetsEmail(deps.config.doorflow.sendEmail, p.delivery)) {
    await deps.people.dropContact(personId);
  } else if (p.entry.email !== undefined && key) {
    await deps.people.keepContact(personId, encryptSecret(key, p.entry.email));
  }
}

async function settlePerson(p: PersonPayload, deps: ProcessorDeps, ctx: JobContext): Promise<PersonResult> {
  const call = { signal: ctx.signal };
  // One invitation per person: DoorFlow emails anyone it holds an email for (email-policy.ts).
  const withEmail = doorflowGetsEmail(deps.config.doorflow.sendEmail, p.delivery);
  const known = await deps.people.known(p.key, lookupSystemId(p.entry), p.entry.email, deps.clock.now());
  let existing = await fromMapping(p, deps, ctx, known);
  if (!existing) {
    const pending = known.pending;
    if (pending?.state === 'inflight') {
      // A create was sent by an attempt that never saw its end (crashed, or a stalled copy still
      // waiting). Wait until that request must have finished, then the lookup below sees its result.
      const settleAt = pending.at + deps.config.doorflow.timeoutMs + 1_000;
      const now = deps.clock.now();
      if (now < settleAt) throw await ctx.delay(settleAt - now);
    }
    // When DoorFlow is given the email, its unique email (contract §4) makes the create's 422
    // the email lookup: a new person costs the system_id lookup only.
    existing =
      p.indexed && !pending && known.indexCurrent
        ? chooseExisting(p.entry, known.bySystemId, known.bySystemId ? undefined : known.byEmail)
        : await fromRemote(p, deps, ctx, !withEmail);
  }
  const adopt = async (found: PersonSnapshot): Promise<PersonResult> => {
    const diff = fieldsToUpdate(p.entry, found, withEmail);
    let snapshot = found;
    if (diff) {
      ctx.logger.debug({ personId: found.id, fields: Object.keys(diff) }, 'updating person');
      snapshot = snapshotOf(await deps.doorflow.updatePerson(found.id, diff, call));
    }
    await deps.people.remember(p.key, { ...snapshot, id: found.id });
    return { personId: found.id, created: false, updated: diff !== undefined };
  };
  if (existing) return await adopt(existing);
  await deps.people.markPending(p.key, deps.clock.now());
  let created: PersonSnapshot;
  try {
    created = snapshotOf(await deps.doorflow.createPerson(personInputFor(p.entry, withEmail), call));
  } catch (err) {
    await deps.people.markPendingUnknown(p.key, deps.clock.now());
    // A 422 on the email: someone holds it (a person our index missed, or the lookup we left to
    // this create): look up once and adopt, as a match found before the create would have been.
    if (err instanceof DoorFlowError && err.status === 422 && err.fieldErrors.email) {
      const found = await fromRemote(p, deps, ctx, true);
      if (found) return await adopt(found);
    }
    throw err;
  }
  ctx.logger.debug({ personId: created.id }, 'created person');
  const kept = await afterRedisRestart(p, deps, ctx, known, created);
  if (kept.id !== created.id) {
    await deps.people.remember(p.key, kept);
    return { personId: kept.id, created: false, updated: false };
  }
  // Roster sync scope: people this tool created may be offboarded by a later sync.
  await deps.managed.add(created.id);
  await deps.people.remember(p.key, created);
  return { personId: created.id, created: true, updated: false };
}

/**
 * Redis may have lost its last second of writes in a restart (AOF `everysec`), and with them the
 * person lock and pending marker: a copy of this job started before the restart may have created
 * the same person while this one looked up. DoorFlow has no uniqueness rule for `system_id` (nor for
 * a withheld email), so when Redis restarted during this step or recently, list the system_id after
 * the create: the oldest person wins, and a newer one we just created is deleted again. Both copies
 * check after their own create, so the later of the two sees both. Costs one call per create only
 * within {@link RECENT_RESTART_MS} of a Redis restart.
 */
async function afterRedisRestart(
  p: PersonPayload,
  deps: ProcessorDeps,
  ctx: JobContext,
  known: KnownPerson,
  created: PersonSnapshot,
): Promise<PersonSnapshot> {
  const restartedMeanwhile = (await deps.people.serverRunId()) !== known.serverRunId;
  const restartedLately =
    known.restartSeenAt !== undefined && deps.clock.now() - known.restartSeenAt < RECENT_RESTART_MS;
  if (!restartedMeanwhile && !restartedLately) return created;
  const oldest = await oldestBySystemId(p, deps, ctx);
  if (!oldest || oldest.id === created.id) return created;
  ctx.logger.warn(
    { personId: created.id, kept: oldest.id },
    'person created twice across a Redis restart: deleting the newer one',
  );
  await deps.doorflow.deletePerson(created.id, { signal: ctx.signal });
  return snapshotOf(oldest);
}

/** The oldest DoorFlow person with the entry's system_id (its own, or the one derived from its key). */
async function oldestBySystemId(p: PersonPayload, deps: ProcessorDeps, ctx: JobContext) {
  const systemId = lookupSystemId(p.entry);
  const page = await deps.doorflow.listPeople({ system_id: systemId, per_page: 100 }, { signal: ctx.signal });
  return exactSystemIdMatches(page.items, systemId)[0];
}

/** How long after a Redis restart a create is checked for a twin (see {@link afterRedisRestart}). */
const RECENT_RESTART_MS = 5 * 60_000;

/** The person this key was settled to before (any run), with a current snapshot. */
async function fromMapping(
  p: PersonPayload,
  deps: ProcessorDeps,
  ctx: JobContext,
  known: KnownPerson,
): Promise<PersonSnapshot | undefined> {
  const id = known.mappedId;
  if (id === undefined) return undefined;
  const indexed = known.bySystemId ?? known.byEmail;
  if (indexed?.id === id) return indexed;
  try {
    return snapshotOf(await deps.doorflow.getPerson(id, { signal: ctx.signal }));
  } catch (err) {
    if (err instanceof DoorFlowError && err.status === 404) {
      // Deleted in DoorFlow since: forget the mapping and match afresh.
      await deps.people.forget(p.key);
      return undefined;
    }
    throw err;
  }
}

/** A DoorFlow lookup by system_id, then (with `byEmailToo`) by exact email. */
async function fromRemote(
  p: PersonPayload,
  deps: ProcessorDeps,
  ctx: JobContext,
  byEmailToo: boolean,
): Promise<PersonSnapshot | undefined> {
  const call = { signal: ctx.signal };
  let bySid: PersonSnapshot | undefined;
  // An entry without a system_id is looked up by the one derived from its key first: with the
  // email withheld from DoorFlow, that is the only trace of an earlier create.
  const match = await oldestBySystemId(p, deps, ctx);
  if (match) bySid = snapshotOf(match);
  let byEmail: PersonSnapshot | undefined;
  if (!bySid && byEmailToo && p.entry.email) {
    const page = await deps.doorflow.listPeople({ email: p.entry.email, per_page: 100 }, call);
    const match = exactEmailMatches(page.items, p.entry.email)[0];
    if (match) byEmail = snapshotOf(match);
  }
  if (!p.entry.system_id && !p.entry.email) {
    throw new ProvisionerError('invalid_payload', 'entry has neither system_id nor email', {
      retryable: false,
    });
  }
  return chooseExisting(p.entry, bySid, byEmail);
}
