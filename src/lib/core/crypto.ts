import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ProvisionerError } from './errors.ts';

/**
 * AES-256-GCM for secrets at rest (invitation codes inside job data). A token is
 * `v1.<iv>.<tag>.<ciphertext>` in base64url: self-describing, so the format can change later.
 */

const VERSION = 'v1';
const IV_BYTES = 12;

function checkKey(key: Buffer): void {
  if (key.length !== 32)
    throw new ProvisionerError('encryption_key_invalid', 'ENCRYPTION_KEY must be 32 bytes');
}

/** Encrypts `plaintext` with a 32-byte key; a fresh random IV per call. */
export function encryptSecret(key: Buffer, plaintext: string): string {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [VERSION, iv.toString('base64url'), tag.toString('base64url'), body.toString('base64url')].join('.');
}

/** Decrypts a token from {@link encryptSecret}. Throws `decrypt_failed` (never retryable) on any tampering. */
export function decryptSecret(key: Buffer, token: string): string {
  checkKey(key);
  const parts = token.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) {
    throw new ProvisionerError('decrypt_failed', 'encrypted secret has an unknown format');
  }
  try {
    const iv = Buffer.from(parts[1] ?? '', 'base64url');
    const tag = Buffer.from(parts[2] ?? '', 'base64url');
    const body = Buffer.from(parts[3] ?? '', 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch (cause) {
    // The message must not echo the token or the key.
    throw new ProvisionerError('decrypt_failed', 'encrypted secret could not be decrypted (wrong key?)', {
      cause,
    });
  }
}

/** A fresh random key (used by `demo`, which has no configured ENCRYPTION_KEY). */
export function generateKey(): Buffer {
  return randomBytes(32);
}
