import type { RedisConnection } from '../core/redis.ts';
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
  /**
   * Set when no channel confirmation was seen: an earlier attempt died after the message may have
   * left (`unknown`: not sent again), or the provider's own log showed it (`provider_log`).
   */
  recovered?: 'unknown' | 'provider_log';
}

/**
 * A send in progress: `delivering:{credentialId}:{channel}`, taken before the message leaves and
 * deleted when the send is recorded. Found by a later attempt, it means an earlier one died (or
 * failed) without a confirmation. `committed`: the message may have reached the person (the
 * channel passed the point of no return, e.g. the end of the SMTP DATA).
 */
export interface DeliveryClaim {
  jobId: string;
  at: number;
  phase: 'started' | 'committed';
}

/** A claim outlives any retry of a delivery (BullMQ gives up long before). */
const CLAIM_TTL_SEC = 30 * 86_400;

export class DeliveryStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
  ) {}

  async find(credentialId: string, channel: string): Promise<DeliveryRecord | undefined> {
    const raw = await this.redis.get(this.keys.delivered(credentialId, channel));
    return raw ? (JSON.parse(raw) as DeliveryRecord) : undefined;
  }

  /** Records a confirmed send (and drops its claim); false when one was already recorded. */
  async record(credentialId: string, channel: string, record: DeliveryRecord): Promise<boolean> {
    const [[, ok] = [null, null]] =
      (await this.redis
        .multi()
        .set(this.keys.delivered(credentialId, channel), JSON.stringify(record), 'NX')
        .del(this.keys.deliveryClaim(credentialId, channel))
        .exec()) ?? [];
    return ok === 'OK';
  }

  /**
   * Takes the claim of a send about to start; returns the earlier attempt's claim instead when
   * one is there (left untouched: the caller decides by it whether the message may have left).
   */
  async claim(
    credentialId: string,
    channel: string,
    jobId: string,
    at: number,
  ): Promise<DeliveryClaim | undefined> {
    const key = this.keys.deliveryClaim(credentialId, channel);
    const mine: DeliveryClaim = { jobId, at, phase: 'started' };
    const ok = await this.redis.set(key, JSON.stringify(mine), 'EX', CLAIM_TTL_SEC, 'NX');
    if (ok === 'OK') return undefined;
    const raw = await this.redis.get(key);
    return raw ? (JSON.parse(raw) as DeliveryClaim) : undefined;
  }

  /** Moves a claim to `started` or `committed` (a new claim when it had expired). */
  async setPhase(credentialId: string, channel: string, claim: DeliveryClaim): Promise<void> {
    await this.redis.set(
      this.keys.deliveryClaim(credentialId, channel),
      JSON.stringify(claim),
      'EX',
      CLAIM_TTL_SEC,
    );
  }
}
