import type { RedisConnection } from '../core/redis.ts';
import type { RedisKeys } from './keys.ts';

/**
 * Accepted DoorFlow webhook signatures (`webhook:seen:{digest}`), remembered until a replay of
 * the same request could no longer pass the time window (see `replayTtlMs` in
 * `lib/doorflow/webhook-verify.ts`, which holds the pure verification).
 */
export class WebhookSignatureStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
  ) {}

  /** Claims a signature (SET NX with TTL): false when it was seen before, i.e. a replay. */
  async claim(signature: string, ttlMs: number): Promise<boolean> {
    const reply = await this.redis.set(this.keys.webhookSeen(signature), '1', 'PX', ttlMs, 'NX');
    return reply === 'OK';
  }

  /** Releases a claim when we could not enqueue, so the sender's retry is not taken for a replay. */
  async release(signature: string): Promise<void> {
    await this.redis.del(this.keys.webhookSeen(signature));
  }
}
