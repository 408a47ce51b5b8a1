import { type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { backoffDelayMs } from '../core/backoff.ts';
import type { Config } from '../core/config.ts';
import { lifecycleQueues } from './lifecycle-payloads.ts';
import { deliveryChannelSchema, rosterEntrySchema } from '../roster/entry.ts';

/**
 * The one typed queue registry: queue name → payload schema, plus default job options. Producers
 * and processors both go through it; nothing else names a queue.
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

export const credentialPayloadSchema = z.object({
  ...stepBase,
  personId: z.number().int().positive(),
  /** We created the person in this chain: it cannot have credentials yet (saves one list call). */
  personCreated: z.boolean().default(false),
});

export const invitationPayloadSchema = z.object({
  ...stepBase,
  personId: z.number().int().positive(),
  credentialId: z.string().min(1),
  credentialStatus: z.string().nullish(),
  /** This chain created (or adopted after its own lost create) the credential, rather than reusing one. */
  credentialCreated: z.boolean().default(false),
  /** AES-256-GCM token of the invitation code when the create response carried one. */
  encryptedCode: z.string().optional(),
  expiresAt: z.string().nullish(),
  /** When this step first found no code yet (ms since epoch): bounds the wait. */
  waitStartedAt: z.number().optional(),
  polls: z.number().int().min(0).default(0),
});

export const deliveryPayloadSchema = z.object({
  ...stepBase,
  personId: z.number().int().positive(),
  credentialId: z.string().min(1),
  credentialStatus: z.string().nullish(),
  encryptedCode: z.string().optional(),
  expiresAt: z.string().nullish(),
});

/**
 * Roster sync leavers and rehires (producers area, `processors/offboard.ts`): `offboard` revokes the
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
export type OffboardPayload = z.output<typeof offboardPayloadSchema>;

/** Queues other areas fill in; their payloads are validated by their own processors. */
const openPayload = z.record(z.string(), z.unknown());

export const queueRegistry = {
  person: personPayloadSchema,
  credential: credentialPayloadSchema,
  invitation: invitationPayloadSchema,
  'delivery-webhook': deliveryPayloadSchema,
  'delivery-email': deliveryPayloadSchema,
  'delivery-sms': deliveryPayloadSchema,
  // Lifecycle queues (delivery & lifecycle area): schemas in lifecycle-payloads.ts.
  'status-events': lifecycleQueues['status-events'],
  'status-poll': lifecycleQueues['status-poll'],
  reminder: lifecycleQueues.reminder,
  expiry: lifecycleQueues.expiry,
  'stuck-check': lifecycleQueues['stuck-check'],
  revocation: lifecycleQueues.revocation,
  reissue: lifecycleQueues.reissue,
  offboard: offboardPayloadSchema,
  sync: openPayload,
} as const;

export type QueueName = keyof typeof queueRegistry;
export const QUEUE_NAMES = Object.keys(queueRegistry) as QueueName[];
/** Payload as producers write it (defaults optional). */
export type PayloadInput<Q extends QueueName> = z.input<(typeof queueRegistry)[Q]>;
/** Payload as processors see it after validation. */
export type Payload<Q extends QueueName> = z.output<(typeof queueRegistry)[Q]>;

export type PersonPayload = Payload<'person'>;
export type CredentialPayload = Payload<'credential'>;
export type InvitationPayload = Payload<'invitation'>;
export type DeliveryPayload = Payload<'delivery-webhook'>;

/** The four steps of provisioning, in order. */
export const PIPELINE_STEPS = ['person', 'credential', 'invitation', 'delivery'] as const;
export type PipelineStep = (typeof PIPELINE_STEPS)[number];

/** Delivery queue for a channel (`doorflow` has none: DoorFlow itself emails the code). */
export function deliveryQueueFor(channel: 'webhook' | 'email' | 'sms'): QueueName {
  return `delivery-${channel}`;
}

/** Name of the custom backoff strategy registered on every worker. */
export const BACKOFF_TYPE = 'provisioner';

/**
 * Default job options. BullMQ defaults to one attempt and keeps every job forever; both are set
 * explicitly: retries span well over an hour with the default config, finished jobs are capped.
 */
export function defaultJobOptions(jobs: Config['jobs']): JobsOptions {
  return {
    attempts: jobs.attempts,
    backoff: { type: BACKOFF_TYPE },
    removeOnComplete: { count: 1_000, age: 24 * 3600 },
    // Failed jobs are also recorded in the dead-letter store; the copy in BullMQ is only for inspection.
    removeOnFail: { count: 5_000, age: 7 * 24 * 3600 },
  };
}

/** The custom backoff strategy: exponential with jitter, and a server's Retry-After wins. */
export function backoffStrategy(jobs: Config['jobs']) {
  return (attemptsMade: number, _type?: string, err?: Error): number => {
    const retryAfterMs = (err as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
    return backoffDelayMs(
      attemptsMade,
      { baseMs: jobs.backoffMs, maxMs: jobs.backoffMaxMs },
      typeof retryAfterMs === 'number' ? retryAfterMs : undefined,
    );
  };
}

/**
 * Job ids: BullMQ forbids ':' in custom ids and integer-looking ids. Roster keys contain ':', so
 * `%` and `:` are percent-encoded (injective and still readable).
 */
export function encodeKey(key: string): string {
  return key.replace(/%/g, '%25').replace(/:/g, '%3A');
}

/** The fields every pipeline step carries ({@link stepBase}). */
export type StepFields = Pick<PersonPayload, 'runId' | 'key' | 'gen' | 'delivery' | 'entry'>;

/** What a step passes on to the next: only the carried fields, never step-specific ones. */
export function stepFields(p: StepFields): StepFields {
  return { runId: p.runId, key: p.key, gen: p.gen, delivery: p.delivery, entry: p.entry };
}

/** Deterministic job id for an entry at a step: re-adding it is a no-op while the job exists. */
export function stepJobId(runId: string, key: string, gen = 0): string {
  return gen > 0 ? `${runId}--${encodeKey(key)}--r${gen}` : `${runId}--${encodeKey(key)}`;
}

/** Typed handles on the queues, sharing one connection. */
export interface Queues {
  readonly prefix: string;
  get(name: QueueName): Queue;
  /** Validates the payload against the registry, then adds it with the default options. */
  add<Q extends QueueName>(
    name: Q,
    payload: PayloadInput<Q>,
    opts: JobsOptions & { jobId: string },
  ): Promise<void>;
  addBulk<Q extends QueueName>(
    name: Q,
    jobs: { payload: PayloadInput<Q>; opts: JobsOptions & { jobId: string } }[],
  ): Promise<void>;
  close(): Promise<void>;
}

export function createQueues(connection: Redis, prefix: string, jobs: Config['jobs']): Queues {
  const open = new Map<QueueName, Queue>();
  const defaults = defaultJobOptions(jobs);
  const get = (name: QueueName): Queue => {
    let queue = open.get(name);
    if (!queue) {
      queue = new Queue(name, { connection, prefix, defaultJobOptions: defaults });
      open.set(name, queue);
    }
    return queue;
  };
  return {
    prefix,
    get,
    async add(name, payload, opts) {
      const data = queueRegistry[name].parse(payload);
      await get(name).add(name, data, opts);
    },
    async addBulk(name, list) {
      if (list.length === 0) return;
      const schema = queueRegistry[name];
      await get(name).addBulk(list.map((j) => ({ name, data: schema.parse(j.payload), opts: j.opts })));
    },
    async close() {
      await Promise.all([...open.values()].map((q) => q.close()));
      open.clear();
    },
  };
}
