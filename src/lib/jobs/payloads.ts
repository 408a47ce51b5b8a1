import { z } from 'zod';
import { deliveryChannelSchema } from '../delivery/channel-names.ts';
import { rosterEntrySchema } from '../roster/entry.ts';

/**
 * Payload schemas of the provisioning chain (person → credential → hand-over → deliver), of roster
 * sync's offboarding and of the scheduled sync job. Lifecycle payloads are in lifecycle-payloads.ts;
 * the registry (registry.ts) maps every queue to one of them.
 */

/** Fields every pipeline step carries: which run, which roster entry, which replay generation. */
const stepBase = {
  runId: z.string().min(1),
  /** Roster key (`sid:…` or `email:…`). */
  key: z.string().min(1),
  /** 0 for the first pass; each dead-letter replay increments it so job ids stay unique. */
  gen: z.number().int().min(0).default(0),
  /** Where the invitation goes for this entry. */
  delivery: deliveryChannelSchema,
  entry: rosterEntrySchema,
};

export const personPayloadSchema = z.object({
  ...stepBase,
  /** The run prefetched the account's people into the Redis index, so "absent there" means absent. */
  indexed: z.boolean().default(false),
});

/**
 * A slice of a run's entries provisioned in one job (queue `provision`, processors/provision.ts):
 * each entry is what a `person` job carries, minus the run fields the slice shares.
 */
export const provisionPayloadSchema = z.object({
  runId: stepBase.runId,
  gen: stepBase.gen,
  entries: z
    .array(personPayloadSchema.pick({ key: true, delivery: true, entry: true, indexed: true }))
    .min(1),
});

export const credentialPayloadSchema = z.object({
  ...stepBase,
  personId: z.number().int().positive(),
  /** We created the person in this chain: it cannot have credentials yet (saves one list call). */
  personCreated: z.boolean().default(false),
});

/** What the credential step found out, carried to the hand-over and on to delivery. */
const credentialFound = {
  personId: z.number().int().positive(),
  credentialId: z.string().min(1),
  credentialStatus: z.string().nullish(),
  /** AES-256-GCM token of the invitation code, once we have one (never the code itself). */
  encryptedCode: z.string().optional(),
  expiresAt: z.string().nullish(),
};

export const invitationPayloadSchema = z.object({
  ...stepBase,
  ...credentialFound,
  /** This chain created (or adopted after its own lost create) the credential, rather than reusing one. */
  credentialCreated: z.boolean().default(false),
  /** When this step first found no code yet (ms since epoch): bounds the wait. */
  waitStartedAt: z.number().optional(),
  polls: z.number().int().min(0).default(0),
});

export const deliveryPayloadSchema = z.object({ ...stepBase, ...credentialFound });

/**
 * Roster sync leavers and rehires (`processors/lifecycle/offboard.ts`): `offboard` revokes the
 * person's live HID credentials (pending invitations included) then sets `enabled: false`; never a
 * delete. `reenable` sets `enabled: true` for a rehire.
 */
export const offboardPayloadSchema = z.object({
  runId: z.string().min(1),
  key: z.string().min(1),
  personId: z.number().int().positive(),
  action: z.enum(['offboard', 'reenable']).default('offboard'),
  /** Set `enabled: false` after revoking (false when the person is already disabled). */
  disable: z.boolean().default(true),
  reason: z.string().default('sync'),
});

/**
 * One scheduled roster sync (`sync --schedule` registers a job scheduler that adds one per tick):
 * the source and the flags of the `sync` command.
 */
export const syncPayloadSchema = z.object({
  source: z.enum(['csv', 'bamboohr', 'json']),
  file: z.string().optional(),
  url: z.string().optional(),
  company: z.string().optional(),
  mapping: z.string().optional(),
  /** `--source-name`: what the safety checks, plan history and quarantine are kept under. */
  sourceName: z.string().optional(),
  /** Feed request headers, each value AES-256-GCM encrypted with ENCRYPTION_KEY (they carry credentials). */
  encryptedHeaders: z.record(z.string(), z.string()).optional(),
  /** The whole feed URL, AES-256-GCM encrypted, when it has a query string (`url` then keeps scheme, host and path). */
  encryptedUrl: z.string().optional(),
  map: z.array(z.string()).optional(),
  delimiter: z.string().optional(),
  delivery: deliveryChannelSchema.optional(),
  defaultCountry: z.string().optional(),
  maxOffboard: z.string().optional(),
  force: z.boolean().optional(),
  timeoutMs: z.number().int().positive().optional(),
});

/**
 * The janitor's tick (a BullMQ job scheduler adds one every JANITOR_EVERY): nothing to carry, the
 * retentions come from the config of the worker that runs it.
 */
export const janitorPayloadSchema = z.object({});
