/**
 * The arithmetic of a multi-slot booking (budget.ts): one reservation in Redis books `count`
 * consecutive slots of the fleet's schedule, one emission interval apart, and each request waiting
 * in the process takes one of them. Pure, so it is unit-tested on its own.
 */

/** What the reserve script answers for one booking. */
export interface BookingReply {
  /** µs from the script's Redis time until the first slot. */
  readonly waitUs: number;
  /** A 429 pause set the first slot. */
  readonly paused: boolean;
  /** The first slot, µs of Redis time. */
  readonly startUs: number;
}

/** One request's slot. */
export interface Slot {
  /** µs from the booking's Redis time until this slot. */
  readonly waitUs: number;
  /** Only the slots a pause pushed back count as waiting for it. */
  readonly paused: boolean;
  /** The slot, µs of Redis time. */
  readonly atUs: number;
}

/** The `count` slots of one booking, in order; the first is the reply's own. */
export function batchSlots(reply: BookingReply, intervalUs: number, count: number): Slot[] {
  return Array.from({ length: Math.max(0, count) }, (_, i) => ({
    waitUs: Math.max(0, reply.waitUs) + i * intervalUs,
    paused: reply.paused,
    atUs: reply.startUs + i * intervalUs,
  }));
}
