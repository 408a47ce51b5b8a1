import { z } from 'zod';
import { type DeliveryChannelName, deliveryChannelSchema } from '../delivery/channel-names.ts';

/**
 * The roster key identifies one person across runs: the trimmed `system_id` when present
 * (kept as text: leading zeros matter), else the lower-cased email.
 */
export function rosterKey(entry: { system_id?: string | null; email?: string | null }): string | undefined {
  const systemId = entry.system_id?.trim();
  if (systemId) return `sid:${systemId}`;
  const email = entry.email?.trim().toLowerCase();
  if (email) return `email:${email}`;
  return undefined;
}

/** One normalised roster entry, as every producer yields it and every processor receives it. */
export const rosterEntrySchema = z.object({
  key: z.string().min(1),
  system_id: z.string().min(1).optional(),
  first_name: z.string().min(1),
  last_name: z.string().min(1),
  email: z.string().email().optional(),
  mobile: z.string().optional(),
  department: z.string().optional(),
  job_title: z.string().optional(),
  group_ids: z.array(z.number().int().positive()).optional(),
  delivery: deliveryChannelSchema.optional(),
  /** Line (CSV) or record number in the source, for error reports. */
  line: z.number().int().positive().optional(),
});

export type RosterEntry = z.infer<typeof rosterEntrySchema>;

/** What a person needs for a channel to reach them. */
export function channelReaches(
  channel: DeliveryChannelName,
  has: { email: boolean; mobile: boolean },
): boolean {
  if (channel === 'doorflow' || channel === 'email') return has.email;
  if (channel === 'sms') return has.mobile;
  return true;
}

/**
 * The channel to use for one person: the wanted one when it can reach them, else the first channel
 * of the fallback order that can (`DELIVERY_FALLBACK` / `--fallback`), else the wanted one (so the
 * entry is refused with the wanted channel's reason).
 */
export function pickDeliveryChannel(
  wanted: DeliveryChannelName,
  fallback: readonly DeliveryChannelName[],
  has: { email: boolean; mobile: boolean },
): DeliveryChannelName {
  if (channelReaches(wanted, has)) return wanted;
  return fallback.find((channel) => channelReaches(channel, has)) ?? wanted;
}
