import { randomBytes } from 'node:crypto';
import { type RedisConnection, serverRunId } from '../core/redis.ts';
import type { DoorFlowApi, Person } from '../doorflow/types.ts';
import type { RedisKeys } from './keys.ts';

/**
 * What we know about DoorFlow people, in Redis (under the prefix):
 * - `people:index` hash: `sid:<system_id>` / `email:<lower-case email>` → person snapshot (JSON).
 *   Rebuilt from a full listing at the start of a run, so the person step can create a person that
 *   is absent there without one lookup call per entry.
 * - `people:map` hash: roster key → person id, written whenever the person step settles an entry.
 *   Never replaced by a prefetch, so a person created by a concurrent run is never created twice.
 * - `people:pending:<key>`: a create was sent; if its response was lost the retry looks up first.
 * - `people:contact:<personId>`: the roster email of a person DoorFlow holds no email for
 *   (DOORFLOW_SEND_EMAIL, lib/roster/email-policy.ts), AES-256-GCM ciphertext made by the caller,
 *   so reminders and reissues by email reach the roster's address. Personal data: replaced by
 *   each person step that sees the entry, deleted when DoorFlow is given the email.
 */

/** The fields the person step compares. */
export interface PersonSnapshot {
  id: number;
  first_name?: string | null;
  last_name?: string | null;
  email?: string | null;
  system_id?: string | null;
  mobile?: string | null;
  department?: string | null;
  job_title?: string | null;
  group_ids?: number[] | null;
}

export function snapshotOf(person: Person): PersonSnapshot {
  return {
    id: person.id,
    first_name: person.first_name,
    last_name: person.last_name,
    email: person.email ?? null,
    system_id: person.system_id ?? null,
    mobile: person.mobile ?? null,
    department: person.department ?? null,
    job_title: person.job_title ?? null,
    group_ids: Array.isArray(person.group_ids) ? person.group_ids : null,
  };
}

function indexFields(s: PersonSnapshot): string[] {
  const fields: string[] = [];
  if (s.system_id) fields.push(`sid:${s.system_id}`);
  if (s.email) fields.push(`email:${s.email.toLowerCase()}`);
  return fields;
}

/** DoorFlow's people pages hold at most 100 (contract §9). */
const MAX_PEOPLE_PER_PAGE = 100;

/** The directory's first page and what listing the rest would cost (see {@link PeopleIndex.probe}). */
export interface DirectoryProbe {
  /** The first page's people (lowest ids first). */
  readonly first: readonly Person[];
  /** The `Total` header, when sent. */
  readonly total: number | undefined;
  /** The first page is the whole directory. */
  readonly complete: boolean;
  /** Calls the rest of the listing costs (0 when complete; unbounded without a `Total`). */
  readonly remainingPages: number;
}

/** What Redis knows about a roster key (see {@link PeopleIndex.known}). */
export interface KnownPerson {
  mappedId: number | undefined;
  pending: { state: 'inflight' | 'ended'; at: number } | undefined;
  bySystemId: PersonSnapshot | undefined;
  byEmail: PersonSnapshot | undefined;
  /**
   * Whether the index was built by the Redis server process answering now. A Redis restarted from
   * its AOF may have lost the last second of writes (a create's mapping and pending marker among
   * them): an index from before the restart no longer proves a person is absent.
   */
  indexCurrent: boolean;
  /** The `run_id` of the Redis server answering now (random per redis-server start). */
  serverRunId: string;
  /**
   * When this fleet first saw the current Redis server after a restart of one it had used before
   * (a restart from the AOF may have lost the last second of writes); undefined for a first start.
   */
  restartSeenAt: number | undefined;
}

/** The index hash's field naming the Redis `run_id` it was built under (no person field starts with `@`). */
const SERVER_FIELD = '@server';

/** `run_id` from `INFO server` (random per redis-server start). */
function runIdOf(info: string): string {
  return /^run_id:(\S+)/m.exec(info)?.[1] ?? '';
}

export class PeopleIndex {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
  ) {}

  get #index(): string {
    return this.keys.peopleIndex;
  }
  get #map(): string {
    return this.keys.peopleMap;
  }
  #pending(key: string): string {
    return this.keys.personPending(key);
  }

  /**
   * Reads the directory's first page (100 people) and its `Total`: what listing the rest would
   * cost, and, for a directory of at most one page, the whole of it.
   */
  async probe(doorflow: DoorFlowApi, signal?: AbortSignal): Promise<DirectoryProbe> {
    const page = await doorflow.listPeople({ per_page: MAX_PEOPLE_PER_PAGE }, signal ? { signal } : {});
    const perPage = page.perPage && page.perPage > 0 ? page.perPage : MAX_PEOPLE_PER_PAGE;
    const complete = page.total !== undefined ? page.items.length >= page.total : page.items.length < perPage;
    const pages = page.total !== undefined ? Math.ceil(page.total / perPage) : Number.POSITIVE_INFINITY;
    return {
      first: page.items,
      total: page.total,
      complete,
      remainingPages: complete ? 0 : Math.max(1, pages - 1),
    };
  }

  /**
   * Lists every person (100 per page) into a fresh index and swaps it in atomically; with a probe,
   * its first page is kept and the listing goes on from page 2. Where DoorFlow holds duplicates
   * (made before us), the lowest id wins: the oldest record.
   */
  async prefetch(doorflow: DoorFlowApi, signal?: AbortSignal, probe?: DirectoryProbe): Promise<number> {
    const tmp = this.keys.peopleIndexBuild(randomBytes(4).toString('hex'));
    try {
      let batch: string[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        // HSETNX keeps the first (lowest-id when listed in id order) person for a field.
        const pipeline = this.redis.pipeline();
        for (let i = 0; i < batch.length; i += 2) pipeline.hsetnx(tmp, batch[i] ?? '', batch[i + 1] ?? '');
        await pipeline.exec();
        batch = [];
      };
      // Offset pages shift when the list changes under us: a person seen twice counts once.
      const byId = new Map<number, PersonSnapshot>();
      for (const person of probe?.first ?? []) byId.set(person.id, snapshotOf(person));
      if (!probe?.complete) {
        const from = probe ? { page: 2 } : {};
        for await (const person of doorflow.iteratePeople(from, signal ? { signal } : {})) {
          if (!byId.has(person.id)) byId.set(person.id, snapshotOf(person));
        }
      }
      const people = [...byId.values()].sort((a, b) => a.id - b.id);
      for (const s of people) {
        const json = JSON.stringify(s);
        for (const field of indexFields(s)) batch.push(field, json);
        if (batch.length >= 1000) await flush();
      }
      await flush();
      // Written even for an empty account, so its person steps can still trust the (empty) index.
      await this.redis.hset(tmp, SERVER_FIELD, await serverRunId(this.redis, tmp));
      await this.redis.rename(tmp, this.#index);
      return people.length;
    } finally {
      await this.redis.del(tmp);
    }
  }

  /** Everything the person step needs to know about a key, in one round trip. */
  async known(
    key: string,
    systemId: string | undefined,
    email: string | undefined,
    now: number,
  ): Promise<KnownPerson> {
    const results = await this.redis
      .pipeline()
      .hget(this.#map, key)
      .get(this.#pending(key))
      .hget(this.#index, `sid:${systemId ?? ''}`)
      .hget(this.#index, `email:${(email ?? '').toLowerCase()}`)
      .hget(this.#index, SERVER_FIELD)
      // Key-less, so it goes with the rest: on a cluster, to the master that owns the prefix's slot.
      .info('server')
      .get(this.keys.redisEpoch)
      .exec();
    const value = (i: number): string | null => {
      const [err, v] = results?.[i] ?? [null, null];
      if (err) throw err;
      return (v as string | null) ?? null;
    };
    const mapped = value(0);
    const pending = value(1);
    const sid = systemId ? value(2) : null;
    const mail = email ? value(3) : null;
    const [state, at] = (pending ?? '').split(':');
    return {
      mappedId: mapped ? Number(mapped) : undefined,
      pending: pending ? { state: state === 'ended' ? 'ended' : 'inflight', at: Number(at) || 0 } : undefined,
      bySystemId: sid ? (JSON.parse(sid) as PersonSnapshot) : undefined,
      byEmail: mail ? (JSON.parse(mail) as PersonSnapshot) : undefined,
      indexCurrent: value(4) !== null && value(4) === runIdOf(value(5) ?? ''),
      serverRunId: runIdOf(value(5) ?? ''),
      restartSeenAt: await this.#epoch(runIdOf(value(5) ?? ''), value(6), now),
    };
  }

  /** Compares the server with the epoch record, recording a first start or a restart. */
  async #epoch(runId: string, recorded: string | null, now: number): Promise<number | undefined> {
    if (!runId) return undefined;
    if (recorded === null) {
      await this.redis.set(this.keys.redisEpoch, `${runId}:0`, 'NX');
      return undefined;
    }
    const [seenRunId, at] = recorded.split(':');
    if (seenRunId === runId) return Number(at) > 0 ? Number(at) : undefined;
    // A restart: the first process to notice records when (later ones read it back).
    await this.redis.set(this.keys.redisEpoch, `${runId}:${now}`);
    return now;
  }

  /** The `run_id` of the Redis server answering now (see {@link KnownPerson.serverRunId}). */
  async serverRunId(): Promise<string> {
    return await serverRunId(this.redis, this.#index);
  }

  async bySystemId(systemId: string): Promise<PersonSnapshot | undefined> {
    const raw = await this.redis.hget(this.#index, `sid:${systemId}`);
    return raw ? (JSON.parse(raw) as PersonSnapshot) : undefined;
  }

  async byEmail(email: string): Promise<PersonSnapshot | undefined> {
    const raw = await this.redis.hget(this.#index, `email:${email.toLowerCase()}`);
    return raw ? (JSON.parse(raw) as PersonSnapshot) : undefined;
  }

  /** Records a settled person: the key's mapping and a fresh snapshot; clears the pending mark. */
  async remember(key: string, snapshot: PersonSnapshot): Promise<void> {
    const json = JSON.stringify(snapshot);
    const multi = this.redis.multi().hset(this.#map, key, snapshot.id).del(this.#pending(key));
    for (const field of indexFields(snapshot)) multi.hset(this.#index, field, json);
    await multi.exec();
  }

  async mappedId(key: string): Promise<number | undefined> {
    const raw = await this.redis.hget(this.#map, key);
    return raw ? Number(raw) : undefined;
  }

  async forget(key: string): Promise<void> {
    await this.redis.hdel(this.#map, key);
  }

  /** Marks that a create is about to be sent (kept a day: long enough for any retry). */
  async markPending(key: string, now: number): Promise<void> {
    await this.redis.set(this.#pending(key), `inflight:${now}`, 'EX', 86_400);
  }

  /** The create request ended without an answer we could use (lost response, time-out). */
  async markPendingUnknown(key: string, now: number): Promise<void> {
    await this.redis.set(this.#pending(key), `ended:${now}`, 'EX', 86_400, 'XX');
  }

  /**
   * Whether a create was sent for this key and not settled: `inflight` (its process may have
   * crashed mid-request, or may still be waiting for the answer) or `ended` (the request failed).
   */
  async pending(key: string): Promise<{ state: 'inflight' | 'ended'; at: number } | undefined> {
    const raw = await this.redis.get(this.#pending(key));
    if (!raw) return undefined;
    const [state, at] = raw.split(':');
    return { state: state === 'ended' ? 'ended' : 'inflight', at: Number(at) || 0 };
  }

  /** Keeps the sealed roster email of a person DoorFlow was not given it for. */
  async keepContact(personId: number, sealedEmail: string): Promise<void> {
    await this.redis.set(this.keys.personContact(personId), sealedEmail);
  }

  /** The sealed roster email kept for a person, if any. */
  async contact(personId: number): Promise<string | undefined> {
    return (await this.redis.get(this.keys.personContact(personId))) ?? undefined;
  }

  async dropContact(personId: number): Promise<void> {
    await this.redis.del(this.keys.personContact(personId));
  }
}
