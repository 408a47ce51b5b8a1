import type { Config } from '../core/config.ts';
import type { Person } from '../doorflow/types.ts';
import { createEmailSender, type EmailSender, type InvitationEmail } from './email.ts';
import { createSmsSender, type SmsSender } from './sms.ts';
import { DEFAULT_SUPPORT_CONTACT, templateValues } from './email.ts';
import { DEFAULT_TEMPLATES, loadTemplates, renderTemplate, type TemplateSet } from './templates.ts';
import { ProvisionerError, RETRYABLE_STATUSES } from '../core/errors.ts';
import { parseRetryAfterMs } from '../core/backoff.ts';
import type { ProcessorDeps } from '../../processors/context.ts';
import {
  instructionsText,
  signWebhook,
  WebhookDeliveryError,
  webhookMessageBody,
  webhookMessageId,
  webhookTarget,
} from './webhook.ts';

/**
 * Sends an invitation code through one of our own channels (email, sms, webhook). Shared by the
 * delivery processors, reminders and reissue, so every path uses the same message and the same
 * error classification. The caller owns idempotency (delivery records) and decrypts the code
 * just before calling.
 */

export type OwnChannel = 'email' | 'sms' | 'webhook';

export interface Recipient {
  personId: number;
  systemId?: string | null | undefined;
  firstName: string;
  lastName: string;
  email?: string | null | undefined;
  mobile?: string | null | undefined;
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

interface Senders {
  email?: EmailSender;
  sms?: SmsSender;
  smsTemplates?: Promise<TemplateSet>;
}
// One sender per config (i.e. per process): created on first use, so a process that never sends
// email needs no SMTP settings.
const senders = new WeakMap<Config, Senders>();

function sendersFor(config: Config): Senders {
  let s = senders.get(config);
  if (!s) {
    s = {};
    senders.set(config, s);
  }
  return s;
}

/** Closes the SMTP transport of a config's email sender, if one was made. */
export function closeSenders(config: Config): void {
  senders.get(config)?.email?.close();
  senders.delete(config);
}

/** What the email and sms templates say to `to` about `inv`, the same in both channels. */
function messageFields(to: Recipient, inv: Invitation): Omit<InvitationEmail, 'to'> {
  return {
    firstName: to.firstName,
    lastName: to.lastName,
    code: inv.code,
    expiresAt: inv.expiresAt,
    reminder: inv.reminder !== undefined,
  };
}

export async function sendCode(
  deps: Pick<ProcessorDeps, 'config' | 'http' | 'clock'>,
  channel: OwnChannel,
  to: Recipient,
  inv: Invitation,
  signal?: AbortSignal,
): Promise<void> {
  const d = deps.config.delivery;
  const s = sendersFor(deps.config);
  if (channel === 'email') {
    if (!to.email)
      throw new ProvisionerError('email_missing', 'the person has no email address for the email channel');
    s.email ??= createEmailSender({
      smtpUrl: d.smtpUrl,
      mailFrom: d.mailFrom,
      appName: d.appName,
      supportContact: d.supportContact,
      templatesDir: d.templatesDir,
    });
    await s.email.send({ to: to.email, ...messageFields(to, inv) }, signal ? { signal } : {});
    return;
  }
  if (channel === 'sms') {
    if (!to.mobile)
      throw new ProvisionerError('mobile_missing', 'the person has no mobile number for the sms channel');
    s.sms ??= createSmsSender(d.sms);
    s.smsTemplates ??= d.templatesDir ? loadTemplates(d.templatesDir) : Promise.resolve(DEFAULT_TEMPLATES);
    const values = templateValues(
      { appName: d.appName, supportContact: d.supportContact ?? DEFAULT_SUPPORT_CONTACT },
      messageFields(to, inv),
    );
    const text = renderTemplate((await s.smsTemplates).smsText, { ...values }, { html: false });
    await s.sms.send(to.mobile, text, signal ? { signal } : {});
    return;
  }
  await postWebhook(deps, to, inv, signal);
}

async function postWebhook(
  deps: Pick<ProcessorDeps, 'config' | 'http' | 'clock'>,
  to: Recipient,
  inv: Invitation,
  signal: AbortSignal | undefined,
): Promise<void> {
  const { appName, supportContact } = deps.config.delivery;
  const { url: webhookUrl, secret: webhookSecret } = webhookTarget(deps.config.delivery);
  // Same body and delivery id as the first delivery (webhook-message.ts), plus `reminder` on
  // reminders.
  const id = webhookMessageId(inv);
  const rawBody = JSON.stringify(webhookMessageBody(to, inv, instructionsText(appName, supportContact)));
  const timestamp = Math.floor(deps.clock.now() / 1000);
  const response = await deps.http.post(webhookUrl, {
    body: rawBody,
    headers: {
      'content-type': 'application/json',
      'x-provisioner-timestamp': String(timestamp),
      'x-provisioner-delivery': id,
      'x-provisioner-signature': signWebhook(webhookSecret, timestamp, rawBody),
    },
    throwHttpErrors: false,
    retry: { limit: 0 },
    timeout: { request: deps.config.doorflow.timeoutMs },
    ...(signal ? { signal } : {}),
  });
  const status = response.statusCode;
  if (status >= 200 && status < 300) return;
  const retryable = RETRYABLE_STATUSES.has(status);
  throw new WebhookDeliveryError(
    retryable ? 'webhook_failed' : 'webhook_rejected',
    `delivery webhook answered HTTP ${status}`,
    status,
    retryable,
    parseRetryAfterMs(response.headers['retry-after'], undefined),
  );
}
