import type { Person } from '../doorflow/types.ts';
import type { OwnChannel } from './channel-names.ts';

/**
 * What a delivery channel is and what it sends: one invitation (or reminder) to one person. The
 * first delivery, reminders and reissues all send through the same channel object, so every path
 * uses the same message and the same error classification. The caller owns idempotency (delivery
 * records) and decrypts the code just before sending.
 */

export interface Recipient {
  personId: number;
  systemId?: string | null | undefined;
  firstName: string;
  lastName: string;
  email?: string | null | undefined;
  mobile?: string | null | undefined;
}

export interface Invitation {
  credentialId: string;
  credentialStatus?: string | null | undefined;
  /** Secret. */
  code: string;
  expiresAt?: string | null | undefined;
  runId?: string | undefined;
  /** Reminder number (1-based); absent for the first delivery. */
  reminder?: number | undefined;
}

/** What a message says to its recipient, the same in every channel's template. */
export interface MessageFields {
  firstName: string;
  lastName: string;
  /** Secret. */
  code: string;
  /** ISO-8601; when unknown the message says the code is valid for a limited time. */
  expiresAt?: string | null | undefined;
  /** Reminders get a "Reminder: " prefix in the subject and body. */
  reminder?: boolean;
}

export function messageFields(to: Recipient, inv: Invitation): MessageFields {
  return {
    firstName: to.firstName,
    lastName: to.lastName,
    code: inv.code,
    expiresAt: inv.expiresAt,
    reminder: inv.reminder !== undefined,
  };
}

/** A recipient as DoorFlow knows the person (reminders and reissues re-read the person). */
export function recipientFromPerson(personId: number, person: Person): Recipient {
  return {
    personId,
    systemId: person.system_id,
    firstName: person.first_name,
    lastName: person.last_name,
    email: person.email,
    mobile: person.mobile,
  };
}

/** The two marks a channel may set around its point of no return (deliver.ts keeps them). */
export interface SendGate {
  commit(): Promise<void>;
  reopen(): Promise<void>;
}

/** What a later attempt knows of an unconfirmed earlier one. */
export interface UnconfirmedSend {
  /** When it started (ms since epoch). */
  at: number;
  /** It passed the channel's point of no return ({@link SendGate.commit}). */
  committed: boolean;
}

export type Recovery = 'sent' | 'resend' | 'unknown';

/** One of our own delivery channels. Built by the composition root; holds no module-level state. */
export interface DeliveryChannel {
  readonly name: OwnChannel;
  /**
   * Throws a permanent error when this channel cannot send at all, before a delivery does any
   * other work. Only channels with a cheap check have one (webhook); email and sms check their
   * settings when they first send, so a process that never sends email needs no SMTP settings.
   */
  preflight?(): void;
  /**
   * Sends one message; a confirmed send resolves, anything else throws a classified error. With a
   * `gate`, a channel that has a point of no return (the end of the SMTP DATA) awaits
   * `gate.commit()` just before it, and `gate.reopen()` when the server then refused the message.
   */
  send(to: Recipient, inv: Invitation, signal?: AbortSignal, gate?: SendGate): Promise<void>;
  /**
   * An earlier attempt of this send started and never confirmed it (it crashed, or failed):
   * `sent` (the provider's own record shows it), `resend` (safe: nothing can have reached the
   * person, or the receiver drops a repeat by its delivery id), or `unknown` (it may have reached
   * the person: never sent again). See docs/delivery.md for each channel's guarantee.
   */
  recover(to: Recipient, inv: Invitation, earlier: UnconfirmedSend, signal?: AbortSignal): Promise<Recovery>;
  /** Releases what the channel opened (the SMTP transport), if anything. */
  close(): void;
}
