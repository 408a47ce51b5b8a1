import type { RedisConnection } from '../core/redis.ts';
import type { RedisKeys } from './keys.ts';

/**
 * Once-per-fleet marks for a run's finish: the run watcher counted it (`run-finished:{id}:{at}`)
 * and the NOTIFY_WEBHOOK_URL summary was sent (`notify:{id}:{at}`). Keyed by the finish time, so a
 * run replayed and finished again is counted and reported again.
 */
export class RunNoticeStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
  ) {}

  /** Claims counting this finish; false when another process did. */
  async claimFinish(runId: string, finishedAt: number, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.keys.runFinished(runId, finishedAt), '1', 'PX', ttlMs, 'NX')) === 'OK';
  }

  /** Whether the summary of this finish was sent (or is being sent). */
  async notified(runId: string, finishedAt: string | undefined): Promise<boolean> {
    return (await this.redis.exists(this.keys.runNotified(runId, finishedAt))) !== 0;
  }

  /** Claims sending the summary of this finish; false when another process did. */
  async claimNotification(
    runId: string,
    finishedAt: string | undefined,
    ttlMs: number,
    atMs: number,
  ): Promise<boolean> {
    const marker = this.keys.runNotified(runId, finishedAt);
    return (await this.redis.set(marker, String(atMs), 'PX', ttlMs, 'NX')) === 'OK';
  }

  /** Gives the claim back after a failed send, so a later finisher may try. */
  async releaseNotification(runId: string, finishedAt: string | undefined): Promise<void> {
    await this.redis.del(this.keys.runNotified(runId, finishedAt));
  }
}
