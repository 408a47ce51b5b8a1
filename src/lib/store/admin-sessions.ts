import type { RedisConnection } from '../core/redis.ts';
import type { RedisKeys } from './keys.ts';

/**
 * Live `/admin` browser sessions (`admin-session:{sha256(id)}`, with the session's TTL), so a
 * logout revokes the cookie server-side. Only a digest of the session id is stored: a Redis dump
 * gives no usable cookie.
 */
export class AdminSessionStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
  ) {}

  /** Records a new session that expires after `ttlMs`. */
  async open(sessionId: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.adminSession(sessionId), '1', 'PX', ttlMs);
  }

  /** True while the session was opened, has not expired and was not revoked. */
  async isLive(sessionId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.adminSession(sessionId))) === 1;
  }

  /** Revokes a session (logout); a no-op for an unknown one. */
  async revoke(sessionId: string): Promise<void> {
    await this.redis.del(this.keys.adminSession(sessionId));
  }
}
