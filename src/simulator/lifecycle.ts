import type { ResolvedSimulatorOptions } from './options.ts';
import type { CredentialRecord, SimState } from './state.ts';

/**
 * Credential status changes and the timers that drive them:
 * invited → provisioning → active → revoking → revoked, plus `expired` for invitations.
 * Every change is reported to `onChange` (the webhook dispatcher listens).
 */

/** DoorFlow webhook actions. */
export type WebhookAction = 'CREATE' | 'UPDATE' | 'DESTROY';

export interface StatusChange {
  credential: CredentialRecord;
  action: WebhookAction;
  oldStatus: string | null;
  newStatus: string | null;
  atMs: number;
}

export type AcceptResult =
  | { ok: true; credential: CredentialRecord }
  | { ok: false; reason: 'not_found' | 'not_invited' | 'expired' };

/** Node timers hold at most ~24.8 days. */
const MAX_TIMER_MS = 2_147_483_647;

export class Lifecycle {
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #stalled = new Set<string>();
  #stall = false;

  constructor(
    private readonly deps: {
      state: SimState;
      options: () => ResolvedSimulatorOptions;
      now: () => number;
      onChange: (change: StatusChange) => void;
    },
  ) {}

  /** Cancels every pending transition (on reset and close). */
  clear(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#stalled.clear();
    this.#stall = false;
  }

  get stalled(): boolean {
    return this.#stall;
  }

  #after(ms: number, fn: () => void): void {
    // Longer waits (a 30-day invitation) are chained through shorter timers.
    const step = Math.min(Math.max(0, ms), MAX_TIMER_MS);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (ms > MAX_TIMER_MS) this.#after(ms - MAX_TIMER_MS, fn);
      else fn();
    }, step);
    timer.unref();
    this.#timers.add(timer);
  }

  #set(rec: CredentialRecord, status: string, action: WebhookAction = 'UPDATE'): void {
    const oldStatus = rec.status;
    if (oldStatus === status) return;
    rec.status = status;
    this.deps.onChange({ credential: rec, action, oldStatus, newStatus: status, atMs: this.deps.now() });
  }

  /** A credential was just created. HID invitations expire by themselves at `invitation_expires_at`. */
  created(rec: CredentialRecord): void {
    this.deps.onChange({
      credential: rec,
      action: 'CREATE',
      oldStatus: null,
      newStatus: rec.status,
      atMs: this.deps.now(),
    });
    if (rec.isHid && rec.invitationExpiresAtMs !== undefined) {
      this.#after(rec.invitationExpiresAtMs - this.deps.now(), () => {
        if (rec.status === 'invited') this.#expire(rec);
      });
    }
  }

  /** The holder entered the code in the app: invited → provisioning → (after a delay) active. */
  accept(code: string): AcceptResult {
    const id = this.deps.state.byCode.get(code.trim().toUpperCase());
    const rec = id ? this.deps.state.findCredential(id) : undefined;
    if (!rec) return { ok: false, reason: 'not_found' };
    if (rec.status === 'expired') return { ok: false, reason: 'expired' };
    if (rec.status !== 'invited') return { ok: false, reason: 'not_invited' };
    this.#set(rec, 'provisioning');
    if (this.#stall) this.#stalled.add(rec.id);
    else this.#scheduleActivation(rec);
    return { ok: true, credential: rec };
  }

  #scheduleActivation(rec: CredentialRecord): void {
    this.#after(this.deps.options().provisioningDelayMs, () => {
      if (rec.status !== 'provisioning') return;
      if (this.#stall) this.#stalled.add(rec.id);
      else this.#set(rec, 'active');
    });
  }

  /** While stalled, accepted credentials stay in `provisioning`; un-stalling lets them finish. */
  stallProvisioning(on: boolean): void {
    this.#stall = on;
    if (on) return;
    for (const id of this.#stalled) {
      const rec = this.deps.state.credentials.get(id);
      if (rec) this.#scheduleActivation(rec);
    }
    this.#stalled.clear();
  }

  #expire(rec: CredentialRecord): void {
    rec.invitationExpiresAtMs = Math.min(rec.invitationExpiresAtMs ?? this.deps.now(), this.deps.now());
    if (rec.invitationCode) this.deps.state.byCode.delete(rec.invitationCode);
    this.#set(rec, 'expired');
  }

  /** Expires pending invitations (all, or those whose hashid/alias is listed). Returns how many. */
  expireInvitations(ids?: readonly string[]): number {
    const wanted = ids?.map((id) => this.deps.state.findCredential(id)?.id).filter((id) => id !== undefined);
    let n = 0;
    for (const rec of this.deps.state.credentials.values()) {
      if (rec.status !== 'invited' || rec.deleted) continue;
      if (wanted && !wanted.includes(rec.id)) continue;
      this.#expire(rec);
      n++;
    }
    return n;
  }

  /** DELETE of a mobile credential: revoking now, revoked after `revokeDelayMs`. */
  revoke(rec: CredentialRecord): void {
    if (rec.status === 'revoking' || rec.status === 'revoked') return;
    if (rec.invitationCode) this.deps.state.byCode.delete(rec.invitationCode);
    this.#set(rec, 'revoking');
    this.#after(this.deps.options().revokeDelayMs, () => {
      if (rec.status === 'revoking') this.#set(rec, 'revoked', 'DESTROY');
    });
  }

  /** DELETE of a value credential: gone at once. */
  destroyValue(rec: CredentialRecord): void {
    rec.deleted = true;
    this.deps.onChange({
      credential: rec,
      action: 'DESTROY',
      oldStatus: rec.status,
      newStatus: null,
      atMs: this.deps.now(),
    });
  }
}
