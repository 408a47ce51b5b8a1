import type { RedisConnection } from '../core/redis.ts';
import type { RedisKeys } from './keys.ts';

/** How long a raised occurrence is remembered, so a retried job or a second worker does not page twice. */
const SENT_TTL_SEC = 30 * 86_400;

/**
 * Alert state, fleet-wide: which occurrences were raised already (`alerts:sent:{kind}:{dedupeKey}`)
 * and how many alerts of each kind were raised (`alerts:count` hash, read by the ops metrics).
 * Raising itself (log, webhook) is `lib/ops/alerts.ts`.
 */
export class AlertStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
  ) {}

  /** Claims this occurrence; false when it was raised before. */
  async markSent(kind: string, dedupeKey: string): Promise<boolean> {
    const fresh = await this.redis.set(this.keys.alertSent(kind, dedupeKey), '1', 'EX', SENT_TTL_SEC, 'NX');
    return fresh === 'OK';
  }

  /** Counts one more alert of `kind`. */
  async increment(kind: string): Promise<void> {
    await this.redis.hincrby(this.keys.alertCounts, kind, 1);
  }

  /** Alerts raised so far, fleet-wide, by kind (a counter: only ever grows). */
  async counts(): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(this.keys.alertCounts);
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }
}
