import { randomUUID } from 'node:crypto';
import type { Logger } from '../../lib/core/logger.ts';
import type { Config } from '../../lib/core/config.ts';
import type { CredentialStore } from '../../lib/store/credentials.ts';
import type { PeopleIndex } from '../../lib/store/people-index.ts';
import type { RunStore } from '../../lib/store/runs.ts';
import type { ScimUserRecord, ScimUserStore } from '../../lib/store/scim-users.ts';
import { validateEntry } from '../validate-row.ts';
import type { SourceEntry } from '../sources/adapter.ts';
import { compileFilter } from './filter.ts';
import { applyPatch } from './patch.ts';
import { listResponse, MAX_RESULTS } from './schemas.ts';
import { ScimError } from './scim-error.ts';
import type { ScimRuns } from './scim-runs.ts';
import {
  isActive,
  normaliseAttributes,
  type PassView,
  renderUser,
  rosterFieldsOf,
  userNameOf,
} from './user-resource.ts';

/**
 * The SCIM `/Users` resource (RFC 7644 §3): what each request does to our store and the pipeline,
 * free of HTTP. Reads are served from the store alone (no DoorFlow call per `GET`); writes store
 * the IdP's state and send the difference through {@link ScimRuns}.
 */

type Attributes = Record<string, unknown>;

export interface ScimUsersDeps {
  config: Config;
  users: ScimUserStore;
  runs: ScimRuns;
  runStore: RunStore;
  people: PeopleIndex;
  credentials: CredentialStore;
  logger: Logger;
  now(): number;
}

/** Where a user's resource lives: `{base}/Users/{id}` (the router knows the base, per account later). */
export type Locate = (id: string) => string;

export interface ListQuery {
  filter?: string | undefined;
  startIndex?: string | undefined;
  count?: string | undefined;
}

/** Statuses in which an entry is settled (anything else is still on its way). */
const SETTLED = /^(provisioned|already_provisioned|invalid|dead:)/;
/** Pass statuses, most telling first: a live pass beats an old revoked one. */
const PASS_ORDER = ['active', 'provisioning', 'invited', 'revoking', 'revoked', 'deleted'];

function positiveInt(text: string | undefined, fallback: number, min: number): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n)) throw new ScimError(400, 'startIndex and count must be numbers', 'invalidValue');
  // RFC 7644 §3.4.2.4: a startIndex below 1 is 1, a negative count is 0.
  return Math.max(min, Math.floor(n));
}

export class ScimUsers {
  constructor(private readonly deps: ScimUsersDeps) {}

  async list(query: ListQuery, locate: Locate): Promise<Attributes> {
    const startIndex = positiveInt(query.startIndex, 1, 1);
    const count = Math.min(positiveInt(query.count, MAX_RESULTS, 0), MAX_RESULTS);
    const matches = query.filter ? compileFilter(query.filter) : () => true;
    const all = await this.deps.users.all();
    const found = all.filter((r) => matches({ ...r.attributes, id: r.id }));
    const page = found.slice(startIndex - 1, startIndex - 1 + count);
    const resources = await Promise.all(page.map((r) => this.#render(r, locate)));
    return listResponse(resources, found.length, startIndex);
  }

  async get(id: string, locate: Locate): Promise<Attributes> {
    return this.#render(await this.#existing(id), locate);
  }

  async create(body: unknown, locate: Locate): Promise<Attributes> {
    const attributes = normaliseAttributes(this.#object(body));
    const userName = userNameOf(attributes);
    if (await this.deps.users.idOfUserName(userName)) throw this.#taken();
    const entry = this.#entry(attributes);
    const now = this.deps.now();
    const record: ScimUserRecord = {
      id: randomUUID(),
      key: entry.key,
      userName,
      created: now,
      lastModified: now,
      version: 1,
      attributes,
    };
    // The pipeline first: a request that fails after this is retried by the IdP and finds the
    // run's deterministic job ids; stored first, a retry would answer 409 with nothing queued.
    if (isActive(attributes)) record.runId = await this.deps.runs.provision(entry);
    const written = await this.deps.users.put(record);
    if (!written.ok) throw this.#taken();
    return this.#render(record, locate);
  }

  async replace(id: string, body: unknown, locate: Locate): Promise<Attributes> {
    const before = await this.#existing(id);
    return this.#change(before, normaliseAttributes(this.#object(body)), locate);
  }

  async patch(id: string, body: unknown, locate: Locate): Promise<Attributes> {
    const before = await this.#existing(id);
    return this.#change(before, applyPatch(before.attributes, body), locate);
  }

  async delete(id: string): Promise<void> {
    const record = await this.#existing(id);
    if (isActive(record.attributes)) await this.#offboard(record, record.attributes);
    await this.deps.users.delete(record);
  }

  async #change(before: ScimUserRecord, attributes: Attributes, locate: Locate): Promise<Attributes> {
    const userName = userNameOf(attributes);
    const holder = await this.deps.users.idOfUserName(userName);
    if (holder !== undefined && holder !== before.id) throw this.#taken();
    const entry = { ...this.#entry(attributes), key: before.key };
    const wasActive = isActive(before.attributes);
    const active = isActive(attributes);
    const changed =
      JSON.stringify(rosterFieldsOf(before.attributes)) !== JSON.stringify(rosterFieldsOf(attributes));
    const record: ScimUserRecord = {
      ...before,
      userName,
      attributes,
      lastModified: this.deps.now(),
      version: before.version + 1,
    };
    if (wasActive && !active) {
      const runId = await this.#offboard(before, attributes);
      if (runId) record.runId = runId;
    } else if (active && (!wasActive || changed)) {
      record.runId = await this.deps.runs.provision(entry, { reenable: !wasActive });
    }
    const written = await this.deps.users.put(record, before.userName);
    if (!written.ok) throw this.#taken();
    return this.#render(record, locate);
  }

  async #offboard(record: ScimUserRecord, attributes: Attributes): Promise<string | undefined> {
    const fields = rosterFieldsOf(attributes);
    const population = (await this.deps.users.all()).filter((r) => isActive(r.attributes)).length;
    const runId = await this.deps.runs.offboard(
      { scimId: record.id, key: record.key, system_id: fields.system_id, email: fields.email },
      population,
    );
    if (runId === undefined) {
      // No person yet. If the user's create is still on its way, revoking now would miss the pass
      // it is about to issue: the IdP retries this later (503), when there is a person to offboard.
      if ((await this.#pass(record)).pending) {
        throw new ScimError(
          503,
          'the user is still being provisioned; retry the deactivation shortly',
          undefined,
          {
            retryAfterMs: 5_000,
          },
        );
      }
      this.deps.logger.info(
        { scimId: record.id },
        'SCIM deactivation: no person was provisioned for the user',
      );
    }
    return runId;
  }

  /** The roster entry of a user, through the one row validator; a refusal is a 400. */
  #entry(attributes: Attributes): SourceEntry {
    const { delivery } = this.deps.config;
    const checked = validateEntry(rosterFieldsOf(attributes), 0, {
      fallbackDelivery: delivery.defaultChannel,
      fallbackOrder: delivery.fallback,
    });
    if ('rejected' in checked) {
      throw new ScimError(400, `the user cannot be provisioned: ${checked.rejected.message}`, 'invalidValue');
    }
    return checked.entry;
  }

  #object(body: unknown): Attributes {
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new ScimError(400, 'the body must be a SCIM User object', 'invalidSyntax');
    }
    return body as Attributes;
  }

  #taken(): ScimError {
    return new ScimError(409, 'a user with this userName exists already', 'uniqueness');
  }

  async #existing(id: string): Promise<ScimUserRecord> {
    const record = await this.deps.users.get(id);
    if (!record) throw new ScimError(404, `no User with id ${JSON.stringify(id.slice(0, 64))}`);
    return record;
  }

  async #render(record: ScimUserRecord, locate: Locate): Promise<Attributes> {
    return renderUser(record, locate(record.id), await this.#pass(record));
  }

  /** The pass as our stores know it: the run entry of the last change and the credential statuses. */
  async #pass(record: ScimUserRecord): Promise<PassView> {
    const status = record.runId ? await this.deps.runStore.entryStatus(record.runId, record.key) : undefined;
    const pending = status !== undefined && !SETTLED.test(status);
    const personId = await this.deps.people.mappedId(record.key);
    const statuses: string[] = [];
    if (personId !== undefined) {
      for (const id of await this.deps.credentials.ofPerson(personId)) {
        const cred = await this.deps.credentials.get(id);
        if (cred?.status) statuses.push(cred.status);
      }
    }
    const best = PASS_ORDER.find((s) => statuses.includes(s)) ?? statuses[0];
    return { passStatus: best ?? (pending ? 'pending' : 'none'), pending };
  }
}
