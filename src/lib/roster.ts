import { z } from 'zod';

/** Delivery channels: DoorFlow emails the code, or we send it by webhook, email or SMS. */
export const DELIVERY_CHANNELS = ['doorflow', 'webhook', 'email', 'sms'] as const;
export const deliveryChannelSchema = z.enum(DELIVERY_CHANNELS);
export type DeliveryChannelName = z.infer<typeof deliveryChannelSchema>;

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
