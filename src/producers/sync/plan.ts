import {
  type Credential,
  LIVE_CREDENTIAL_STATUSES,
  type Person,
  type PersonInput,
} from '../../lib/doorflow/types.ts';
import { PayloadError } from '../../lib/core/errors.ts';
import { changedPersonFields, fieldText } from '../../lib/roster/person-fields.ts';
import type { RosterEntry } from '../../lib/roster/entry.ts';
import { derivedSystemId } from '../../lib/roster/email-policy.ts';
import type { SourceEntry } from '../sources/adapter.ts';
import type { Headroom } from '../../lib/ops/licence-headroom.ts';

/**
 * Roster sync planning — PURE: roster entries + DoorFlow people + their HID credentials → what
 * to create, update, offboard and leave alone, plus the safety checks that stop a truncated feed
 * or a mistaken scope from offboarding half the company.
 */

/** Which DoorFlow people this tool may offboard. */
interface SyncScope {
  /** People whose `system_id` starts with this prefix (SYNC_SCOPE_PREFIX). */
  prefix?: string | undefined;
  /** Person ids this tool created (the pipeline's `managed` set). */
  managedIds: ReadonlySet<number>;
}

/** `--max-offboard`: a number of people or a percentage of the people in scope. */
export type OffboardLimit = { count: number } | { percent: number };

export interface PlanInput {
  /** Valid, deduplicated roster entries (`active: false` marks leavers the source still lists). */
  roster: readonly SourceEntry[];
  /** Keys of source rows that were invalid: those people are never offboarded for being "absent". */
  problemKeys?: ReadonlySet<string>;
  /** Every DoorFlow person in the account (or at least every one in scope). */
  people: readonly Person[];
  /** The account's credentials (any type; only live HID ones count). */
  credentials: readonly Credential[];
  hidCredentialTypeId: number;
  scope: SyncScope;
  /** False for incremental (`--since`) feeds: absence then means "unchanged", not "left". */
  sourceComplete: boolean;
  /** Entries the previous sync of this source counted (truncation check). */
  previousCount?: number | undefined;
  maxOffboard?: OffboardLimit | undefined;
  /** HID licences left in the account (lib/ops/licence-headroom.ts); undefined: no limit known. */
  headroom?: Headroom | undefined;
  force?: boolean;
  /**
   * Whether DoorFlow holds this entry's email (DOORFLOW_SEND_EMAIL, email-policy.ts). Default:
   * yes. Where it does not, a missing email in DoorFlow is no change to push.
   */
  withEmail?: (entry: RosterEntry) => boolean;
}

interface PlannedCreate {
  key: string;
  entry: RosterEntry;
  /** The person exists already (no live HID credential, or disabled): the pipeline adopts them. */
  personId?: number;
  /** A rehire: the person was offboarded (`enabled: false`) and must be enabled again. */
  reenable?: boolean;
}
interface PlannedUpdate {
  key: string;
  personId: number;
  entry: RosterEntry;
  changes: PersonInput;
}
interface PlannedOffboard {
  personId: number;
  key: string;
  name: string;
  system_id?: string;
  /** Live HID credentials (invited = pending invitations included) to revoke. */
  credentialIds: string[];
  /** Still enabled: set `enabled: false` after revoking. */
  disable: boolean;
  reason: 'absent' | 'inactive';
}

export interface SyncPlan {
  create: PlannedCreate[];
  update: PlannedUpdate[];
  offboard: PlannedOffboard[];
  unchanged: number;
  /** Leavers already offboarded (disabled, nothing live): nothing to do. */
  alreadyOffboarded: number;
  /** In scope and absent, but their source row was invalid: kept. */
  keptInvalid: number;
  licences: { consume: number; release: number; headroom?: Headroom | undefined };
  counts: { source: number; active: number; inactive: number; scope: number; previous: number | undefined };
  safety: { ok: boolean; forced: boolean; maxOffboard: number; refusals: string[] };
}

/** Parses `--max-offboard` (`25` or `5%`). */
export function parseOffboardLimit(text: string): OffboardLimit {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  if (!match) throw new PayloadError(`invalid --max-offboard ${JSON.stringify(text)}: expected N or P%`);
  const value = Number(match[1]);
  if (match[2]) {
    if (value > 100) throw new PayloadError('--max-offboard percentage must be at most 100%');
    return { percent: value };
  }
  if (!Number.isInteger(value))
    throw new PayloadError('--max-offboard must be a whole number or a percentage');
  return { count: value };
}

/** Default: the larger of 25 people or 5 % of the people in scope. */
export function offboardThreshold(limit: OffboardLimit | undefined, scope: number): number {
  if (!limit) return Math.max(25, Math.ceil(scope * 0.05));
  if ('count' in limit) return limit.count;
  return Math.floor((scope * limit.percent) / 100);
}

const text = fieldText;

/** Person group ids, whether DoorFlow sent `group_ids` or `groups` (ids or `{id}` objects). */
function personGroupIds(person: Person): number[] {
  if (Array.isArray(person.group_ids)) return person.group_ids;
  if (Array.isArray(person.groups)) {
    return person.groups
      .map((g: unknown) => (typeof g === 'number' ? g : Number((g as { id?: unknown } | null)?.id)))
      .filter((id) => Number.isInteger(id));
  }
  return [];
}

/**
 * The mapped fields that differ — the pipeline person step's rule (lib/person-fields.ts), with
 * group ids read as DoorFlow may send them (`group_ids` or `groups`).
 */
export function personChanges(entry: RosterEntry, person: Person, withEmail = true): PersonInput | undefined {
  return changedPersonFields(entry, person, personGroupIds(person), withEmail);
}

function inScope(person: Person, scope: SyncScope): boolean {
  if (scope.managedIds.has(person.id)) return true;
  const sid = text(person.system_id);
  return scope.prefix !== undefined && scope.prefix !== '' && sid.startsWith(scope.prefix);
}

function stripSource(entry: SourceEntry): RosterEntry {
  const { active: _active, ...rest } = entry;
  return rest;
}

export function buildSyncPlan(input: PlanInput): SyncPlan {
  const peopleBySid = new Map<string, Person>();
  const peopleByEmail = new Map<string, Person>();
  // Oldest record wins where DoorFlow holds duplicates, as in the pipeline's people index.
  for (const person of [...input.people].sort((a, b) => a.id - b.id)) {
    const sid = text(person.system_id);
    if (sid && !peopleBySid.has(sid)) peopleBySid.set(sid, person);
    const email = text(person.email).toLowerCase();
    if (email && !peopleByEmail.has(email)) peopleByEmail.set(email, person);
  }
  const liveHid = new Map<number, string[]>();
  for (const c of input.credentials) {
    if (c.credential_type_id !== input.hidCredentialTypeId) continue;
    if (!LIVE_CREDENTIAL_STATUSES.has(String(c.status ?? 'invited'))) continue;
    const list = liveHid.get(c.person_id) ?? [];
    list.push(c.id);
    liveHid.set(c.person_id, list);
  }

  const plan: SyncPlan = {
    create: [],
    update: [],
    offboard: [],
    unchanged: 0,
    alreadyOffboarded: 0,
    keptInvalid: 0,
    licences: { consume: 0, release: 0, ...(input.headroom ? { headroom: input.headroom } : {}) },
    counts: { source: input.roster.length, active: 0, inactive: 0, scope: 0, previous: input.previousCount },
    safety: { ok: true, forced: input.force === true, maxOffboard: 0, refusals: [] },
  };
  const settled = new Set<number>();
  const offboard = (person: Person, reason: PlannedOffboard['reason']) => {
    const credentialIds = liveHid.get(person.id) ?? [];
    const disable = person.enabled !== false;
    if (credentialIds.length === 0 && !disable) {
      plan.alreadyOffboarded += 1;
      return;
    }
    const sid = text(person.system_id);
    plan.offboard.push({
      personId: person.id,
      key: sid ? `sid:${sid}` : `email:${text(person.email).toLowerCase()}`,
      name: `${text(person.first_name)} ${text(person.last_name)}`.trim(),
      ...(sid ? { system_id: sid } : {}),
      credentialIds,
      disable,
      reason,
    });
    plan.licences.release += credentialIds.length;
  };

  for (const source of input.roster) {
    // No system_id of its own: the pipeline created the person under one derived from the key
    // (and maybe without the email), else an older person is found by email.
    const person = source.system_id
      ? peopleBySid.get(source.system_id)
      : (peopleBySid.get(derivedSystemId(source.key)) ??
        (source.email ? peopleByEmail.get(source.email.toLowerCase()) : undefined));
    if (person) settled.add(person.id);
    const entry = stripSource(source);
    if (source.active === false) {
      plan.counts.inactive += 1;
      if (person && inScope(person, input.scope)) offboard(person, 'inactive');
      continue;
    }
    plan.counts.active += 1;
    if (!person || !liveHid.has(person.id) || person.enabled === false) {
      const item: PlannedCreate = { key: entry.key, entry };
      if (person) item.personId = person.id;
      if (person?.enabled === false) item.reenable = true;
      plan.create.push(item);
      plan.licences.consume += person && liveHid.has(person.id) ? 0 : 1;
      continue;
    }
    const changes = personChanges(entry, person, input.withEmail?.(entry) ?? true);
    if (changes) plan.update.push({ key: entry.key, personId: person.id, entry, changes });
    else plan.unchanged += 1;
  }

  // In id order, so plans (and their printed tables) are stable whatever order DoorFlow lists in.
  for (const person of [...input.people].sort((a, b) => a.id - b.id)) {
    if (!inScope(person, input.scope)) continue;
    // People offboarded already are no longer anyone --max-offboard N% protects.
    if (person.enabled !== false || liveHid.has(person.id)) plan.counts.scope += 1;
    if (settled.has(person.id) || !input.sourceComplete) continue;
    const sid = text(person.system_id);
    const email = text(person.email).toLowerCase();
    if (input.problemKeys?.has(`sid:${sid}`) || (email && input.problemKeys?.has(`email:${email}`))) {
      plan.keptInvalid += 1;
      continue;
    }
    offboard(person, 'absent');
  }

  checkSafety(plan, input);
  return plan;
}

function checkSafety(plan: SyncPlan, input: PlanInput): void {
  const { counts, safety } = plan;
  safety.maxOffboard = offboardThreshold(input.maxOffboard, counts.scope);
  if (counts.source === 0) {
    safety.refusals.push(
      `the source returned zero entries; with ${counts.scope} people in scope that would offboard everyone`,
    );
  } else if (input.sourceComplete && counts.previous !== undefined && counts.source < counts.previous / 2) {
    safety.refusals.push(
      `the source returned ${counts.source} entries, fewer than half of the previous sync's ${counts.previous} ` +
        '(a truncated feed?)',
    );
  }
  if (plan.offboard.length > safety.maxOffboard) {
    safety.refusals.push(
      `${plan.offboard.length} people would be offboarded, more than --max-offboard ${safety.maxOffboard} ` +
        `(${input.maxOffboard ? describeLimit(input.maxOffboard) : 'default: the larger of 25 or 5 %'} of ${counts.scope} people in scope)`,
    );
  }
  const { headroom, consume, release } = { ...plan.licences };
  if (headroom && consume - release > headroom.free) {
    safety.refusals.push(
      `${consume} HID licences would be consumed (${release} released), more than the ${headroom.free} free ` +
        `(limit ${headroom.limit}, ${headroom.live} live)`,
    );
  }
  safety.ok = safety.refusals.length === 0 || safety.forced;
}

function describeLimit(limit: OffboardLimit): string {
  return 'count' in limit ? `${limit.count}` : `${limit.percent} %`;
}
