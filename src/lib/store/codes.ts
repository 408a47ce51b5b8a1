import type { RedisConnection } from '../core/redis.ts';
import type { RedisKeys } from './keys.ts';

/**
 * The reminder copy of an invitation code. Reminders through our own channels (email, sms,
 * webhook) must repeat the code, and DoorFlow's API schema does not promise to return it again,
 * so after the first delivery we keep ONE copy — AES-256-GCM ciphertext under ENCRYPTION_KEY, never
 * plain text — at `cred:{id}:code`, with a TTL ending when the invitation expires. It is deleted as
 * soon as the credential leaves `invited` (accepted, revoked, expired, reissued) and is not kept at
 * all when reminders are off (`REMINDER_MAX=0`) or for the `doorflow` channel (DoorFlow holds the
 * code). Reminders prefer a fresh `invitation_code` read from DoorFlow when it returns one.
 */

export class CodeStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
  ) {}

  /** Keeps the ciphertext until the invitation's deadline (at least a second). */
  async keep(credentialId: string, encryptedCode: string, ttlMs: number): Promise<void> {
    await this.redis.set(
      this.keys.credentialCode(credentialId),
      encryptedCode,
      'PX',
      Math.max(1_000, Math.round(ttlMs)),
    );
  }

  async load(credentialId: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.credentialCode(credentialId))) ?? undefined;
  }

  async drop(credentialId: string): Promise<void> {
    await this.redis.del(this.keys.credentialCode(credentialId));
  }
}
