import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.ts';

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

export class DeliveryStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async find(credentialId: string, channel: string): Promise<DeliveryRecord | undefined> {
    const raw = await this.redis.get(this.keys.delivered(credentialId, channel));
    return raw ? (JSON.parse(raw) as DeliveryRecord) : undefined;
  }

  /** Records a confirmed send; false when one was already recorded. */
  async record(credentialId: string, channel: string, record: DeliveryRecord): Promise<boolean> {
    const ok = await this.redis.set(this.keys.delivered(credentialId, channel), JSON.stringify(record), 'NX');
    return ok === 'OK';
  }
}
