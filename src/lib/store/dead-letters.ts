import { createHash } from 'node:crypto';
import { nodeFor, type RedisConnection } from '../core/redis.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import type { QueueName } from '../jobs/registry.ts';
import type { RedisKeys } from './keys.ts';

/**
 * The dead-letter store: jobs that failed permanently or ran out of attempts. Keys (under the
 * prefix): `dead:{id}` (JSON record) and `dead` (sorted set of live records by last failure).
 * The id is derived from (run, roster key, step), so a second failure of the same entry at the same
 * step updates one record. Records never hold an invitation code or a token: payloads are stripped.
 */

/** One dead-lettered entry. */
export interface DeadLetter {
  id: string;
  queue: QueueName;
  runId: string;
  key: string;
  jobId: string;
  /** Stable error code (`licence_limit`, `server_error`, `invitation_timeout`, …). */
  code: string;
  message: string;
  httpStatus?: number;
  /** Attempts made, summed over replays. */
  attempts: number;
  firstFailedAt: number;
  lastFailedAt: number;
  /** What replay needs to re-add the job (secrets removed). */
  payload: Record<string, unknown>;
  replays: number;
  state: 'dead' | 'replayed';
}

export interface DeadLetterFilter {
  runId?: string;
  /** Any of these runs (a purge of expired runs). */
  runIds?: ReadonlySet<string>;
  code?: string;
  /** Queue name, or `delivery` for any delivery channel. */
  step?: string;
  olderThanMs?: number;
}

/** Payload fields that must never reach the dead-letter store. */
const SECRET_FIELDS = new Set(['encryptedCode', 'invitation_code', 'invitationCode', 'token']);

export function stripSecrets(payload: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(payload)) if (!SECRET_FIELDS.has(k)) out[k] = v;
  return out;
}

export function deadLetterId(runId: string, key: string, queue: string): string {
  return createHash('sha1').update(`${runId}\n${key}\n${queue}`).digest('hex').slice(0, 12);
}

/** Storage of dead letters; replaying them into the queues is `processors/services/replay.ts`. */
export class DeadLetterStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
    private readonly clock: Clock = systemClock,
  ) {}

  #key(id: string): string {
    return this.keys.deadLetter(id);
  }

  get #index(): string {
    return this.keys.deadLetters;
  }

  /** Records a failure; a repeated failure of the same entry/step keeps its first time and adds attempts. */
  async store(
    input: Omit<DeadLetter, 'id' | 'firstFailedAt' | 'lastFailedAt' | 'replays' | 'state'>,
  ): Promise<DeadLetter> {
    const id = deadLetterId(input.runId, input.key, input.queue);
    const previous = await this.get(id);
    const now = this.clock.now();
    const record: DeadLetter = {
      ...input,
      id,
      payload: stripSecrets(input.payload),
      attempts: (previous?.attempts ?? 0) + input.attempts,
      firstFailedAt: previous?.firstFailedAt ?? now,
      lastFailedAt: now,
      replays: previous?.replays ?? 0,
      state: 'dead',
    };
    await this.redis.multi().set(this.#key(id), JSON.stringify(record)).zadd(this.#index, now, id).exec();
    return record;
  }

  /** The entry succeeded after all (a crashed job's retry): it is no longer dead. */
  async clear(runId: string, key: string, queue: string): Promise<void> {
    const id = deadLetterId(runId, key, queue);
    await this.redis.multi().zrem(this.#index, id).del(this.#key(id)).exec();
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    const raw = await this.redis.get(this.#key(id));
    return raw ? (JSON.parse(raw) as DeadLetter) : undefined;
  }

  /** Live (not replayed) records matching the filter, oldest failure first. */
  async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    const ids = await this.redis.zrange(this.#index, 0, -1);
    const out: DeadLetter[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const raws = await this.redis.mget(...chunk.map((id) => this.#key(id)));
      for (const raw of raws) {
        if (!raw) continue;
        const record = JSON.parse(raw) as DeadLetter;
        if (matches(record, filter, this.clock.now())) out.push(record);
      }
    }
    return out;
  }

  /** The `limit` live records that failed last, newest first (a bounded read for pages). */
  async newest(limit: number): Promise<DeadLetter[]> {
    if (limit <= 0) return [];
    const ids = await this.redis.zrevrange(this.#index, 0, limit - 1);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(...ids.map((id) => this.#key(id)));
    return raws.flatMap((raw) => (raw ? [JSON.parse(raw) as DeadLetter] : []));
  }

  async count(): Promise<number> {
    return await this.redis.zcard(this.#index);
  }

  /**
   * Takes a live record out of the index for a replay (ZREM is atomic: of two concurrent replays,
   * one wins). False when it was no longer there.
   */
  async claim(id: string): Promise<boolean> {
    return (await this.redis.zrem(this.#index, id)) === 1;
  }

  /** Rewrites a record in place (a replayed one stays readable, out of the live index). */
  async update(record: DeadLetter): Promise<void> {
    await this.redis.set(this.keys.deadLetter(record.id), JSON.stringify(record));
  }

  /** Puts a claimed record back as it was (its replay could not be queued). */
  async restore(record: DeadLetter): Promise<void> {
    await this.redis
      .multi()
      .set(this.#key(record.id), JSON.stringify(record))
      .zadd(this.#index, record.lastFailedAt, record.id)
      .exec();
  }

  /** Deletes matching records (live and replayed). Returns how many (dry: would delete, deleting none). */
  async purge(filter: DeadLetterFilter = {}, options: { dryRun?: boolean } = {}): Promise<number> {
    let cursor = '0';
    let removed = 0;
    const now = this.clock.now();
    // On a cluster only the master owning the prefix's slot holds our keys: SCAN runs there.
    const node = await nodeFor(this.redis, this.keys.deadLetterPattern);
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', this.keys.deadLetterPattern, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const raw = await this.redis.get(key);
        if (!raw) continue;
        const record = JSON.parse(raw) as DeadLetter;
        if (!matches(record, filter, now)) continue;
        if (!options.dryRun) await this.redis.multi().unlink(key).zrem(this.#index, record.id).exec();
        removed++;
      }
    } while (cursor !== '0');
    return removed;
  }
}

function matches(record: DeadLetter, filter: DeadLetterFilter, now: number): boolean {
  if (filter.runId && record.runId !== filter.runId) return false;
  if (filter.runIds && !filter.runIds.has(record.runId)) return false;
  if (filter.code && record.code !== filter.code) return false;
  if (filter.step) {
    const step = filter.step === 'delivery' ? 'delivery-' : filter.step;
    if (step.endsWith('-') ? !record.queue.startsWith(step) : record.queue !== step) return false;
  }
  if (filter.olderThanMs !== undefined && record.lastFailedAt > now - filter.olderThanMs) return false;
  return true;
}
