import type { Redis } from 'ioredis';

/**
 * Delivery records: `delivered:{credentialId}:{channel}` is set (NX) once a channel confirmed a
 * send, so a retried or replayed job — in this run or a later one — never sends the same
 * invitation twice. Shared by every delivery channel (webhook, email, sms).
 */

export interface DeliveryRecord {
  runId: string;
  key: string;
  at: number;
}

export function deliveredKey(prefix: string, credentialId: string, channel: string): string {
  return `${prefix}:delivered:${credentialId}:${channel}`;
}

export async function findDelivery(
  redis: Redis,
  prefix: string,
  credentialId: string,
  channel: string,
): Promise<DeliveryRecord | undefined> {
  const raw = await redis.get(deliveredKey(prefix, credentialId, channel));
  return raw ? (JSON.parse(raw) as DeliveryRecord) : undefined;
}

/** Records a confirmed send; false when one was already recorded. */
export async function recordDelivery(
  redis: Redis,
  prefix: string,
  credentialId: string,
  channel: string,
  record: DeliveryRecord,
): Promise<boolean> {
  const ok = await redis.set(deliveredKey(prefix, credentialId, channel), JSON.stringify(record), 'NX');
  return ok === 'OK';
}
