/**
 * The provisioning chain's queues in order: person → credential → hand-over → delivery. A leaf
 * (no BullMQ, no zod), so views that only name the steps — `runs show`, `import --wait` — load
 * nothing heavy; every use hands them to the registry's typed `QueueName` API, which checks them.
 */
export const PIPELINE_QUEUES = [
  'person',
  'credential',
  'invitation',
  'delivery-webhook',
  'delivery-email',
  'delivery-sms',
] as const;

/** The batch queue in front of the chain: one job provisions a slice of a run's entries in process. */
export const BATCH_QUEUE = 'provision';

/** What `pause` holds: the batch queue and every step queue. */
export const PAUSABLE_QUEUES = [BATCH_QUEUE, ...PIPELINE_QUEUES] as const;
