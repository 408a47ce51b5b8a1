import type { StepProcessor } from './context.ts';
import { credentialProcessor } from './credential.ts';
import { deliveryProcessors } from './deliver.ts';
import { handOverProcessor } from './hand-over.ts';
import { expiryProcessor } from './lifecycle/expiry.ts';
import { offboardProcessor } from './lifecycle/offboard.ts';
import { reissueProcessor } from './lifecycle/reissue.ts';
import { reminderProcessor } from './lifecycle/reminder.ts';
import { revocationProcessor } from './lifecycle/revocation.ts';
import { statusEventProcessor } from './lifecycle/status-event.ts';
import { statusPollProcessor } from './lifecycle/status-poll.ts';
import { stuckCheckProcessor } from './lifecycle/stuck-check.ts';
import { lifecycleTickProcessor } from './lifecycle/timers.ts';
import { personProcessor } from './person.ts';
import { provisionProcessor } from './provision.ts';

/**
 * Every step a worker runs by default, bound to BullMQ Workers by worker.ts. The scheduled roster
 * sync (sync.ts) is not among them: the `worker` command adds it.
 */

/**
 * The provisioning chain: batches of entries (provision), and the step queues person → credential
 * → hand-over → deliver (one queue per channel) that single entries, retries and replays go through.
 */
export const pipelineProcessors: readonly StepProcessor[] = [
  provisionProcessor,
  personProcessor,
  credentialProcessor,
  handOverProcessor,
  ...deliveryProcessors,
];

/** The credential lifecycle after the hand-over, and roster sync's offboarding. */
export const lifecycleProcessors: readonly StepProcessor[] = [
  statusEventProcessor,
  statusPollProcessor,
  reminderProcessor,
  expiryProcessor,
  stuckCheckProcessor,
  lifecycleTickProcessor,
  revocationProcessor,
  reissueProcessor,
  offboardProcessor,
];
