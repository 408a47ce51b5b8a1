import { z } from 'zod';

/**
 * The delivery channels' names, defined once: DoorFlow emails the code itself (`doorflow`), or we
 * send it by webhook, email or SMS (our own channels, each with its delivery queue). A leaf module
 * (zod only), so config, roster, job payloads and the channels themselves can all import it.
 */

export const DELIVERY_CHANNELS = ['doorflow', 'webhook', 'email', 'sms'] as const;
export const deliveryChannelSchema = z.enum(DELIVERY_CHANNELS);
export type DeliveryChannelName = z.infer<typeof deliveryChannelSchema>;

/** The channels we send through ourselves. */
const OWN_CHANNELS = ['webhook', 'email', 'sms'] as const;
export type OwnChannel = (typeof OWN_CHANNELS)[number];

function isDeliveryChannel(name: string): name is DeliveryChannelName {
  return DELIVERY_CHANNELS.some((channel) => channel === name);
}

export function isOwnChannel(name: string): name is OwnChannel {
  return OWN_CHANNELS.some((channel) => channel === name);
}

/** Parses a comma-separated channel list (`email,sms,doorflow`); undefined when a name is unknown. */
export function parseChannelList(text: string): DeliveryChannelName[] | undefined {
  const names = text
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  const channels = names.filter(isDeliveryChannel);
  if (channels.length !== names.length) return undefined;
  return [...new Set(channels)];
}
