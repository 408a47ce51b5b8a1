import type { Got } from 'got';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
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
        channel = build[name]();
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
