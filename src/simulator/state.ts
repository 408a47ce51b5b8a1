import type { Credential, CredentialType, Person } from '../lib/doorflow/types.ts';
import { LIVE_CREDENTIAL_STATUSES } from '../lib/doorflow/types.ts';
import type { SeededRandom } from './prng.ts';

/**
 * The simulated account's data, in memory. Pure bookkeeping: HTTP shapes live in the route
 * modules, status changes (and their webhooks and timers) in lifecycle.ts.
 */

export interface PersonRecord {
  person: Person;
  deleted: boolean;
  /** ms since the epoch, for `since_utc`. */
  updatedAtMs: number;
}

export interface CredentialRecord {
  id: string;
  /** HID invitation id alias (`99` + 8 digits); only for HID credentials. */
  hidInvitationId: string | undefined;
  personId: number;
  credentialTypeId: number;
  isHid: boolean;
  value: string | null;
  /** Mobile status; null for value types. */
  status: string | null;
  createdAtMs: number;
  invitationCode: string | undefined;
  invitationExpiresAtMs: number | undefined;
  /** When `invitation_code` starts to show on GET. */
  codeVisibleAtMs: number;
  /** Value credentials are removed for good on DELETE. */
  deleted: boolean;
  /** Webhook ack tokens issued for this credential and not yet acknowledged. */
  ackTokens: Set<string>;
}

const HASHID_ALPHABET = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** Extra (value-credential) types an account may have besides Card, PIN and HID Mobile Access. */
export interface ExtraCredentialType {
  id: number;
  label: string;
  slug?: string | undefined;
}

export function credentialTypesFor(
  hidTypeId: number,
  hidLabel = 'HID Mobile Access',
  extra: readonly ExtraCredentialType[] = [],
): CredentialType[] {
  // Card and PIN keep low ids; if the HID id collides, they move out of its way.
  const taken = new Set([hidTypeId, ...extra.map((t) => t.id)]);
  const ids = [1, 2, 3, 4, 5, 6].filter((id) => !taken.has(id));
  const slugOf = (label: string) => label.toLowerCase().replace(/[^a-z0-9]+/g, '_');
  return [
    { id: ids[0] as number, label: 'Card', slug: 'card', code: 'card' },
    { id: ids[1] as number, label: 'PIN', slug: 'pin', code: 'pin' },
    { id: hidTypeId, label: hidLabel, slug: slugOf(hidLabel), code: 'hid_mobile' },
    ...extra.map((t) => ({ id: t.id, label: t.label, slug: t.slug ?? slugOf(t.label), code: null })),
  ];
}

export class SimState {
  readonly people = new Map<number, PersonRecord>();
  readonly credentials = new Map<string, CredentialRecord>();
  readonly byInvitationId = new Map<string, string>();
  readonly byCode = new Map<string, string>();
  /** Lower-cased email → live person id, and person id → credential ids: creates stay O(1) at 10k+ people. */
  readonly #byEmail = new Map<string, number>();
  readonly #byPerson = new Map<number, string[]>();
  #nextPersonId = 1;
  #credentialSeq = 0;
  /** When `POST /api/3/sync` was last accepted. */
  lastSyncMs: number | undefined;

  constructor(private readonly random: () => SeededRandom) {}

  reset(): void {
    this.people.clear();
    this.credentials.clear();
    this.byInvitationId.clear();
    this.byCode.clear();
    this.#byEmail.clear();
    this.#byPerson.clear();
    this.#nextPersonId = 1;
    this.#credentialSeq = 0;
    this.lastSyncMs = undefined;
  }

  nextPersonId(): number {
    return this.#nextPersonId++;
  }

  livePerson(id: number): PersonRecord | undefined {
    const rec = this.people.get(id);
    return rec && !rec.deleted ? rec : undefined;
  }

  livePeople(): PersonRecord[] {
    return [...this.people.values()].filter((r) => !r.deleted);
  }

  /** A live person (other than `exceptId`) holding this email, compared case-insensitively. */
  emailTaken(email: string, exceptId?: number): boolean {
    const holder = this.#byEmail.get(email.trim().toLowerCase());
    return holder !== undefined && holder !== exceptId && this.livePerson(holder) !== undefined;
  }

  /** Keeps the email index in step after a create, update or delete. */
  reindexEmail(personId: number, before: string | null | undefined, after: string | null | undefined): void {
    const old = before?.trim().toLowerCase();
    if (old && this.#byEmail.get(old) === personId) this.#byEmail.delete(old);
    const next = after?.trim().toLowerCase();
    if (next) this.#byEmail.set(next, personId);
  }

  /** A fresh credential sequence number with its hashid, HID alias and invitation code. */
  allocateCredentialIdentity(): { seq: number; id: string; hidInvitationId: string; code: string } {
    const seq = ++this.#credentialSeq;
    const rnd = this.random();
    let id = rnd.string('hashid', seq, 10, HASHID_ALPHABET);
    while (this.credentials.has(id)) id = rnd.string('hashid', seq + 1_000_000_007, 11, HASHID_ALPHABET);
    const hidInvitationId = `99${String(10_000_000 + ((seq * 7919) % 89_999_999)).padStart(8, '0')}`;
    const raw = rnd.string('code', seq, 16, CODE_ALPHABET);
    const code = `${raw.slice(0, 4)}-${raw.slice(4, 8)}-${raw.slice(8, 12)}-${raw.slice(12, 16)}`;
    return { seq, id, hidInvitationId, code };
  }

  addCredential(rec: CredentialRecord): void {
    this.credentials.set(rec.id, rec);
    const mine = this.#byPerson.get(rec.personId) ?? [];
    mine.push(rec.id);
    this.#byPerson.set(rec.personId, mine);
    if (rec.hidInvitationId) this.byInvitationId.set(rec.hidInvitationId, rec.id);
    if (rec.invitationCode) this.byCode.set(rec.invitationCode, rec.id);
  }

  /** By hashid or HID invitation alias; deleted value credentials are gone. */
  findCredential(idOrAlias: string): CredentialRecord | undefined {
    const id = this.byInvitationId.get(idOrAlias) ?? idOrAlias;
    const rec = this.credentials.get(id);
    return rec && !rec.deleted ? rec : undefined;
  }

  credentialsOf(personId: number): CredentialRecord[] {
    const ids = this.#byPerson.get(personId) ?? [];
    return ids
      .map((id) => this.credentials.get(id))
      .filter((c): c is CredentialRecord => c !== undefined && !c.deleted);
  }

  /** A credential holds its type's slot (and an HID licence) until revoked/deleted/expired. */
  isLive(rec: CredentialRecord): boolean {
    if (rec.deleted) return false;
    return rec.isHid ? LIVE_CREDENTIAL_STATUSES.has(rec.status ?? '') : true;
  }

  liveHidCount(): number {
    let n = 0;
    for (const c of this.credentials.values()) if (c.isHid && this.isLive(c)) n++;
    return n;
  }

  /**
   * The credential as DoorFlow serialises it at time `nowMs`. `showCode`: false = no
   * `invitation_code`; true = the code once visible; `pending-null` = the code once visible, `null` before.
   */
  toWire(
    rec: CredentialRecord,
    nowMs: number,
    showCode: boolean | 'pending-null',
    typeLabel: string,
  ): Credential {
    const wire: Credential = {
      id: rec.id,
      credential_type_id: rec.credentialTypeId,
      label: typeLabel,
      person_id: rec.personId,
      created_at: new Date(rec.createdAtMs).toISOString(),
    };
    if (!rec.isHid) {
      wire.value = rec.value;
      return wire;
    }
    wire.status = rec.status;
    wire.hid_invitation_id = rec.hidInvitationId;
    if (!showCode || rec.status !== 'invited' || !rec.invitationCode) return wire;
    if (nowMs >= rec.codeVisibleAtMs) {
      wire.invitation_code = rec.invitationCode;
      wire.invitation_expires_at = new Date(rec.invitationExpiresAtMs ?? nowMs).toISOString();
    } else if (showCode === 'pending-null') {
      // The guide's GET of one credential: the field is there, null until HID Origo has the code.
      wire.invitation_code = null;
    }
    return wire;
  }
}
