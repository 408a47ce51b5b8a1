import * as deliverEmail from '../deliver-email.ts';
import * as deliverSms from '../deliver-sms.ts';
import * as expiry from './expiry.ts';
import type { ProcessorDefinition } from '../worker.ts';
import * as reissue from './reissue.ts';
import * as reminder from './reminder.ts';
import * as revocation from './revocation.ts';
import * as statusEvent from './status-event.ts';
import * as statusPoll from './status-poll.ts';
import * as stuckCheck from './stuck-check.ts';

/** Delivery channels (email, sms) and the credential lifecycle, bound to workers by index.ts. */
export const lifecycleProcessors: ProcessorDefinition[] = [
  deliverEmail,
  deliverSms,
  statusEvent,
  statusPoll,
  reminder,
  expiry,
  stuckCheck,
  revocation,
  reissue,
];
