import { type JobsOptions, Queue } from 'bullmq';
import type { RedisConnection } from '../core/redis.ts';
import type { z } from 'zod';
import { backoffDelayMs } from '../core/backoff.ts';
import type { Config } from '../core/config.ts';
import { PayloadError } from '../core/errors.ts';
import type { OwnChannel } from '../delivery/channel-names.ts';
import { lifecycleQueues } from './lifecycle-payloads.ts';
import {
  credentialPayloadSchema,
  deliveryPayloadSchema,
  invitationPayloadSchema,
  janitorPayloadSchema,
  offboardPayloadSchema,
  personPayloadSchema,
  provisionPayloadSchema,
  syncPayloadSchema,
} from './payloads.ts';

/**
 * The one typed queue registry: queue name → payload schema, plus default job options. Producers
 * and processors both go through it; nothing else names a queue. Producers write a queue's
 * {@link PayloadInput} (checked by TypeScript); the worker parses the job's data with the queue's
 * schema once, when it picks the job up ({@link parsePayload}), which also applies the defaults.
 */
const queueRegistry = {
  provision: provisionPayloadSchema,
  person: personPayloadSchema,
  credential: credentialPayloadSchema,
  invitation: invitationPayloadSchema,
  'delivery-webhook': deliveryPayloadSchema,
  'delivery-email': deliveryPayloadSchema,
  'delivery-sms': deliveryPayloadSchema,
  'status-events': lifecycleQueues['status-events'],
  'status-poll': lifecycleQueues['status-poll'],
  reminder: lifecycleQueues.reminder,
  expiry: lifecycleQueues.expiry,
  'stuck-check': lifecycleQueues['stuck-check'],
  revocation: lifecycleQueues.revocation,
  reissue: lifecycleQueues.reissue,
  'lifecycle-tick': lifecycleQueues['lifecycle-tick'],
  offboard: offboardPayloadSchema,
  sync: syncPayloadSchema,
  janitor: janitorPayloadSchema,
} as const;

export type QueueName = keyof typeof queueRegistry;
export const QUEUE_NAMES = Object.keys(queueRegistry) as QueueName[];
/** Payload as producers write it (defaults optional). */
export type PayloadInput<Q extends QueueName> = z.input<(typeof queueRegistry)[Q]>;
/** Payload as processors see it after validation. */
export type Payload<Q extends QueueName> = z.output<(typeof queueRegistry)[Q]>;

export type PersonPayload = Payload<'person'>;
export type ProvisionPayload = Payload<'provision'>;
export type CredentialPayload = Payload<'credential'>;
export type InvitationPayload = Payload<'invitation'>;
export type DeliveryPayload = Payload<'delivery-webhook'>;
export type OffboardPayload = Payload<'offboard'>;
export type SyncJobPayload = Payload<'sync'>;

/**
 * The registry seen per queue: indexing this mapped type with a generic queue name keeps the tie
 * between the name and its payload type, so {@link parsePayload} needs no cast.
 */
type SchemaOf = { readonly [Q in QueueName]: z.ZodType<Payload<Q>, PayloadInput<Q>> };
const schemaOf: SchemaOf = queueRegistry;

/** The job boundary: a queue's raw job data parsed once (defaults applied); invalid → PayloadError (permanent). */
export function parsePayload<Q extends QueueName>(queue: Q, data: unknown): Payload<Q> {
  const parsed = schemaOf[queue].safeParse(data);
  if (!parsed.success)
    throw new PayloadError(`job payload is invalid: ${parsed.error.issues[0]?.message ?? ''}`);
  return parsed.data;
}

/** The delivery queues, one per channel we send through ourselves. */
export type DeliveryQueue = `delivery-${OwnChannel}`;

/** Delivery queue for a channel (`doorflow` has none: DoorFlow itself emails the code). */
export function deliveryQueueFor(channel: OwnChannel): DeliveryQueue {
  return `delivery-${channel}`;
}

/** Name of the custom backoff strategy registered on every worker. */
const BACKOFF_TYPE = 'provisioner';

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
 * `%` and `:` are percent-encoded. A `-` is encoded as `%2D` where it could form the `--`
 * separator (next to another `-`, or first or last), so an encoded key never contains `--` and
 * `run--a--r1` (key `a`, gen 1) can no longer equal key `a--r1` at gen 0. Every character maps to
 * itself or a `%XX` escape and `%` is always escaped, so decoding is unique: the map is injective,
 * and keys without `%`, `:` or such dashes are unchanged.
 */
export function encodeKey(key: string): string {
  return key
    .replace(/%/g, '%25')
    .replace(/:/g, '%3A')
    .replace(/^-|-$|-(?=-)|(?<=-)-/g, '%2D');
}

/** The fields every pipeline step carries (`stepBase` in payloads.ts). */
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
  /** Adds a job with the default options; its payload is parsed when a worker picks it up. */
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

export function createQueues(connection: RedisConnection, prefix: string, jobs: Config['jobs']): Queues {
  const open = new Map<QueueName, Queue>();
  const defaults = defaultJobOptions(jobs);
  const get = (name: QueueName): Queue => {
    let queue = open.get(name);
    if (!queue) {
      queue = new Queue(name, { connection, prefix, defaultJobOptions: defaults });
      // The shared connection's errors are logged where it is built (app/pipeline.ts); without a
      // listener BullMQ prints each reconnection failure of an outage to stderr.
      queue.on('error', () => undefined);
      open.set(name, queue);
    }
    return queue;
  };
  return {
    prefix,
    get,
    async add(name, payload, opts) {
      await get(name).add(name, payload, opts);
    },
    async addBulk(name, list) {
      if (list.length === 0) return;
      await get(name).addBulk(list.map((j) => ({ name, data: j.payload, opts: j.opts })));
    },
    async close() {
      await Promise.all([...open.values()].map((q) => q.close()));
      open.clear();
    },
  };
}
