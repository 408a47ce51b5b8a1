import type { PersonRecord } from './state.ts';

/**
 * DoorFlow's own invitation email, modelled: when a HID credential is created for a person who
 * has an email, DoorFlow mails them the invitation. The outbox records one mail per such
 * credential (never the code itself), so tests can count invitations per person across DoorFlow
 * and our own channels. Read through `GET /__sim/outbox`.
 */

/** One invitation email DoorFlow sent. */
export interface OutboxMail {
  to: string;
  person_id: number;
  credential_id: string;
  sent_at: string;
}

export class InvitationOutbox {
  readonly #mails: OutboxMail[] = [];

  /** A HID credential was created for `person`: mail them if DoorFlow holds an email. */
  credentialCreated(person: PersonRecord, credentialId: string, nowMs: number): void {
    const to = person.person.email?.trim();
    if (!to) return;
    this.#mails.push({
      to,
      person_id: person.person.id,
      credential_id: credentialId,
      sent_at: new Date(nowMs).toISOString(),
    });
  }

  get mails(): readonly OutboxMail[] {
    return this.#mails;
  }

  reset(): void {
    this.#mails.length = 0;
  }
}
