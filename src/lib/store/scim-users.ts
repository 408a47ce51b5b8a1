import { createHash } from 'node:crypto';
import type { RedisConnection } from '../core/redis.ts';
import { decryptSecret, encryptSecret } from '../core/crypto.ts';
import type { RedisKeys } from './keys.ts';

/**
 * The SCIM users an identity provider (Okta, Entra) pushed to us, as it reads them back: the
 * resource it sent plus our bookkeeping (roster key, timestamps, the run of the last change).
 * Personal data: each record is sealed with ENCRYPTION_KEY (AES-256-GCM) in the `scim:users` hash,
 * and the `userName` uniqueness index holds only a sha256 of the lower-cased name. A record lives
 * as long as the IdP keeps the user active: `DELETE` removes it at once, and a user deactivated
 * for longer than REVOKED_RETENTION (`scim:inactive`, ids and times only) is removed by the janitor
 * ({@link purgeInactiveScimUsers}; docs/scim.md, "Retention").
 */

export interface ScimUserRecord {
  /** Our SCIM id (`id` of the resource). */
  id: string;
  /** The roster key the pipeline knows the person by; fixed at creation. */
  key: string;
  userName: string;
  /** ms since epoch. */
  created: number;
  lastModified: number;
  /** Bumped by every change; `meta.version` is derived from it. */
  version: number;
  /** The run of the last change that went through the pipeline. */
  runId?: string | undefined;
  /** The resource's attributes as the IdP sent them (without `id` and `meta`). */
  attributes: Record<string, unknown>;
}

/** Why a write was refused: another user holds the `userName`. */
export type ScimWrite = { ok: true } | { ok: false; conflict: 'userName' };

export class ScimUserStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
    private readonly sealKey: Buffer,
  ) {}

  #digest(userName: string): string {
    return createHash('sha256').update(userName.trim().toLowerCase()).digest('hex');
  }

  #seal(record: ScimUserRecord): string {
    return encryptSecret(this.sealKey, JSON.stringify(record));
  }

  #open(sealed: string): ScimUserRecord {
    return JSON.parse(decryptSecret(this.sealKey, sealed)) as ScimUserRecord;
  }

  /** The id holding `userName`, if any (case-insensitive, as SCIM compares `userName`). */
  async idOfUserName(userName: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.scimUserNames, this.#digest(userName))) ?? undefined;
  }

  /**
   * Claims the record's `userName` and writes the record. `previousUserName` (a rename) is
   * released once the new one is held. A claim left by a write that never completed (no record
   * behind it) is taken over.
   */
  async put(record: ScimUserRecord, previousUserName?: string): Promise<ScimWrite> {
    const names = this.keys.scimUserNames;
    const digest = this.#digest(record.userName);
    const claimed = await this.redis.hsetnx(names, digest, record.id);
    if (claimed === 0) {
      const holder = await this.redis.hget(names, digest);
      if (holder !== record.id) {
        if (holder && (await this.redis.hexists(this.keys.scimUsers, holder))) {
          return { ok: false, conflict: 'userName' };
        }
        await this.redis.hset(names, digest, record.id);
      }
    }
    const multi = this.redis.multi().hset(this.keys.scimUsers, record.id, this.#seal(record));
    // Deactivated since the first change that said so; active again: no longer counted.
    if (record.attributes.active === false)
      multi.zadd(this.keys.scimInactive, 'NX', record.lastModified, record.id);
    else multi.zrem(this.keys.scimInactive, record.id);
    if (previousUserName !== undefined && this.#digest(previousUserName) !== digest) {
      multi.hdel(names, this.#digest(previousUserName));
    }
    await multi.exec();
    return { ok: true };
  }

  async get(id: string): Promise<ScimUserRecord | undefined> {
    const sealed = await this.redis.hget(this.keys.scimUsers, id);
    return sealed ? this.#open(sealed) : undefined;
  }

  /**
   * Every record, oldest first (list order must be stable for `startIndex` paging). Read whole:
   * the population an IdP pushes is one organisation's staff, and each record is a few hundred bytes.
   */
  async all(): Promise<ScimUserRecord[]> {
    const sealed = await this.redis.hvals(this.keys.scimUsers);
    return sealed.map((s) => this.#open(s)).sort((a, b) => a.created - b.created || a.id.localeCompare(b.id));
  }

  async delete(record: ScimUserRecord): Promise<void> {
    const names = this.keys.scimUserNames;
    const digest = this.#digest(record.userName);
    await this.redis
      .multi()
      .hdel(this.keys.scimUsers, record.id)
      .hdel(names, digest)
      .zrem(this.keys.scimInactive, record.id)
      .exec();
  }
}

/**
 * Removes SCIM users deactivated before `cutoffMs` (the janitor, REVOKED_RETENTION): their record
 * and their `userName` claim. Needs no key: ids and times are all it reads. Returns how many.
 */
export async function purgeInactiveScimUsers(
  redis: RedisConnection,
  keys: RedisKeys,
  cutoffMs: number,
  dryRun = false,
): Promise<number> {
  const ids = await redis.zrangebyscore(keys.scimInactive, '-inf', cutoffMs);
  if (ids.length === 0 || dryRun) return ids.length;
  const gone = new Set(ids);
  const claims: string[] = [];
  let cursor = '0';
  do {
    const [next, fields] = await redis.hscan(keys.scimUserNames, cursor, 'COUNT', 500);
    cursor = next;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (gone.has(fields[i + 1] ?? '')) claims.push(fields[i] ?? '');
    }
  } while (cursor !== '0');
  const multi = redis
    .multi()
    .hdel(keys.scimUsers, ...ids)
    .zrem(keys.scimInactive, ...ids);
  if (claims.length > 0) multi.hdel(keys.scimUserNames, ...claims);
  await multi.exec();
  return ids.length;
}
