import type { Got } from 'got';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { errorCode, isRetryable, ProvisionerError } from '../core/errors.ts';
import { scrubSecrets, secretRegistry } from '../core/logger.ts';
import type { DeliveryChannel } from './channel.ts';
import type { OwnChannel } from './channel-names.ts';
import { createEmailChannel } from './email.ts';
import { createSmsChannel } from './sms.ts';
import { createWebhookChannel } from './webhook.ts';

/**
 * The delivery channels of one process, built once by the composition root and handed to the
 * processors. Each channel is made on first use and makes its sender on its first send, so a
 * process that never sends email or SMS needs none of their settings.
 */
export interface DeliveryChannels {
  get(name: OwnChannel): DeliveryChannel;
  /** Closes what the channels opened (the SMTP transport). */
  close(): void;
}

export function createDeliveryChannels(options: {
  delivery: Config['delivery'];
  /** HTTP for the webhook channel; retries off (BullMQ is the one retry layer). */
  http: Got;
  clock: Clock;
  /** Webhook request time-out (ms). */
  timeoutMs: number;
}): DeliveryChannels {
  const d = options.delivery;
  const build: Record<OwnChannel, () => DeliveryChannel> = {
    email: () =>
      createEmailChannel({
        smtpUrl: d.smtpUrl,
        mailFrom: d.mailFrom,
        appName: d.appName,
        supportContact: d.supportContact,
        templatesDir: d.templatesDir,
      }),
    sms: () =>
      createSmsChannel({
        sms: d.sms,
        appName: d.appName,
        supportContact: d.supportContact,
        templatesDir: d.templatesDir,
      }),
    webhook: () =>
      createWebhookChannel({
        settings: d,
        http: options.http,
        clock: options.clock,
        timeoutMs: options.timeoutMs,
      }),
  };
  const made = new Map<OwnChannel, DeliveryChannel>();
  return {
    get(name) {
      let channel = made.get(name);
      if (!channel) {
        channel = scrubbingErrors(build[name]());
        made.set(name, channel);
      }
      return channel;
    },
    close() {
      for (const channel of made.values()) channel.close();
      made.clear();
    },
  };
}

/**
 * An outside party's error text (an SMS provider quoting the text it refused, an SMTP reply or a
 * webhook receiver echoing the body) can hold the code being delivered. A channel's send failure
 * is scrubbed here, where it is classified, of that code and of every registered secret, and its
 * cause (the raw provider response) is dropped, so BullMQ's failedReason and stacktrace, dead
 * letters, run entries and every CLI or admin view only ever see the scrubbed text.
 */
function scrubbingErrors(channel: DeliveryChannel): DeliveryChannel {
  return {
    name: channel.name,
    ...(channel.preflight ? { preflight: () => channel.preflight?.() } : {}),
    async send(to, inv, signal, gate) {
      try {
        await channel.send(to, inv, signal, gate);
      } catch (err) {
        throw scrubbedError(err, inv.code);
      }
    },
    async recover(to, inv, earlier, signal) {
      try {
        return await channel.recover(to, inv, earlier, signal);
      } catch (err) {
        throw scrubbedError(err, inv.code);
      }
    },
    close: () => channel.close(),
  };
}

/** The longest outside-party error text we keep (cut only after scrubbing: never half a code). */
const MAX_MESSAGE_CHARS = 1000;

/** The same error (class, code, retryability, status) with the code and secrets cut out of its text. */
function scrubbedError(err: unknown, code: string): ProvisionerError {
  const secrets = [code, ...secretRegistry.values()];
  const scrub = (text: string) => capped(scrubSecrets(text, secrets));
  if (!(err instanceof ProvisionerError)) {
    const message = err instanceof Error ? err.message : String(err);
    return new ProvisionerError(errorCode(err), scrub(message), { retryable: isRetryable(err) });
  }
  const message = err.message;
  err.message = scrub(message);
  if (err.stack) {
    // The stack starts with the (long, unscrubbed) message: put the scrubbed one there, scrub the frames.
    const at = err.stack.indexOf(message);
    const frames = at >= 0 ? err.stack.slice(at + message.length) : `\n${err.stack}`;
    err.stack = `${err.name}: ${err.message}${scrubSecrets(frames, secrets)}`;
  }
  // The cause is the raw response or transport error, which may quote the message we sent.
  Object.defineProperty(err, 'cause', { value: undefined, enumerable: false, configurable: true });
  return err;
}

function capped(text: string): string {
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}
