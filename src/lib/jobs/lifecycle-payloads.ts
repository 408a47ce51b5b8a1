import { z } from 'zod';

/**
 * Payload schemas of the lifecycle queues (status events, polling, reminders, expiry, stuck
 * provisioning, revocation, reissue). The queue registry (`registry.ts`) refers to these; the
 * processors validate with them when they pick a job up.
 */

/** One DoorFlow webhook notice in the real format (thin: no status, read it from `resource`). */
const realStatusEventSchema = z.object({
  format: z.literal('real'),
  action: z.string(),
  resourceType: z.string(),
  resourceId: z.string().min(1),
  /** Absolute URL incl. `?ack_token=`; fetching it reads the state and acknowledges the event. */
  resource: z.string().min(1),
  ackToken: z.string(),
  accountId: z.string().optional(),
  /** When our receiver accepted it (ms since epoch). */
  receivedAt: z.number(),
});

/** The seed guide's format: one event carrying the status change itself. */
const seedStatusEventSchema = z.object({
  format: z.literal('seed'),
  credentialId: z.string().min(1),
  personId: z.number().int().positive().optional(),
  oldStatus: z.string().nullish(),
  newStatus: z.string().min(1),
  /** ISO-8601 time of the change, as sent. */
  timestamp: z.string().optional(),
  receivedAt: z.number(),
});

const statusEventPayloadSchema = z.discriminatedUnion('format', [
  realStatusEventSchema,
  seedStatusEventSchema,
]);
export type StatusEventPayload = z.infer<typeof statusEventPayloadSchema>;

const credentialRef = {
  credentialId: z.string().min(1),
  personId: z.number().int().positive(),
};

/** Poll one credential's status when it has not moved since `since`. */
const statusPollPayloadSchema = z.object({
  ...credentialRef,
  /** The `since` of the status this poll was scheduled for; a change meanwhile makes it moot. */
  since: z.number(),
  /** Polls already made for this status (drives the growing interval). */
  n: z.number().int().min(0).default(0),
  /** When the poll is due on the lifecycle clock (ms). */
  dueAt: z.number(),
});
export type StatusPollPayload = z.infer<typeof statusPollPayloadSchema>;

/** Still invited? Send reminder number `n` (1-based) through the credential's channel. */
const reminderPayloadSchema = z.object({
  ...credentialRef,
  n: z.number().int().min(1),
  dueAt: z.number(),
});
export type ReminderPayload = z.infer<typeof reminderPayloadSchema>;

/** The invitation's validity ends: apply `EXPIRY_POLICY`. */
const expiryPayloadSchema = z.object({
  ...credentialRef,
  dueAt: z.number(),
});
export type ExpiryPayload = z.infer<typeof expiryPayloadSchema>;

/** Still provisioning since `since`? Alert. */
const stuckCheckPayloadSchema = z.object({
  ...credentialRef,
  since: z.number(),
  dueAt: z.number(),
});
export type StuckCheckPayload = z.infer<typeof stuckCheckPayloadSchema>;

/** Revoke a person's live HID credentials (all, or one). */
const revocationPayloadSchema = z.object({
  personId: z.number().int().positive(),
  /** Only this credential; all live HID credentials of the person otherwise. */
  credentialId: z.string().min(1).optional(),
  reason: z.string().default('revoke'),
  systemId: z.string().optional(),
  /** Who asked (`cli`, `sync`, `expiry`). */
  requestedBy: z.string().default('cli'),
});
export type RevocationPayload = z.infer<typeof revocationPayloadSchema>;

/** Replace a person's credential: revoke the old one, create a new one, deliver its code. */
const reissuePayloadSchema = z.object({
  personId: z.number().int().positive(),
  /** The credential being replaced (the job id derives from it, so asking twice adds one job). */
  oldCredentialId: z.string().min(1),
  channel: z.enum(['doorflow', 'webhook', 'email', 'sms']),
  reason: z.string().default('reissue'),
  requestedBy: z.string().default('cli'),
});
export type ReissuePayload = z.infer<typeof reissuePayloadSchema>;

/**
 * The lifecycle scheduler's tick (a BullMQ job scheduler adds one every LIFECYCLE_TICK): nothing
 * to carry, the timers due come from the index (store/lifecycle-timers.ts).
 */
const lifecycleTickPayloadSchema = z.object({});

/** Lifecycle queue names and schemas, merged into the registry by `registry.ts`. */
export const lifecycleQueues = {
  'status-events': statusEventPayloadSchema,
  'status-poll': statusPollPayloadSchema,
  reminder: reminderPayloadSchema,
  expiry: expiryPayloadSchema,
  'stuck-check': stuckCheckPayloadSchema,
  revocation: revocationPayloadSchema,
  reissue: reissuePayloadSchema,
  'lifecycle-tick': lifecycleTickPayloadSchema,
} as const;
