import type { Redis } from 'ioredis';

/**
 * The reminder copy of an invitation code. Reminders through our own channels (email, sms,
 * webhook) must repeat the code, and DoorFlow's API schema does not promise to return it again,
 * so after the first delivery we keep ONE copy — AES-256-GCM ciphertext under ENCRYPTION_KEY, never
 * plain text — at `cred:{id}:code`, with a TTL ending when the invitation expires. It is deleted as
 * soon as the credential leaves `invited` (accepted, revoked, expired, reissued) and is not kept at
 * all when reminders are off (`REMINDER_MAX=0`) or for the `doorflow` channel (DoorFlow holds the
 * code). Reminders prefer a fresh `invitation_code` read from DoorFlow when it returns one.
 */

export const codeKey = (prefix: string, credentialId: string) => `${prefix}:cred:${credentialId}:code`;

export async function keepEncryptedCode(
  redis: Redis,
  prefix: string,
  credentialId: string,
  encryptedCode: string,
  ttlMs: number,
): Promise<void> {
  await redis.set(codeKey(prefix, credentialId), encryptedCode, 'PX', Math.max(1_000, Math.round(ttlMs)));
}

export async function loadEncryptedCode(
  redis: Redis,
  prefix: string,
  credentialId: string,
): Promise<string | undefined> {
  return (await redis.get(codeKey(prefix, credentialId))) ?? undefined;
}

export async function dropEncryptedCode(redis: Redis, prefix: string, credentialId: string): Promise<void> {
  await redis.del(codeKey(prefix, credentialId));
}
