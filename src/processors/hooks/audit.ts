import { hostname } from 'node:os';
import type { AuditLog } from '../../lib/store/audit-log.ts';
import type { Credential, DoorFlowApi, Person, PersonInput } from '../../lib/doorflow/types.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { ProcessorDeps } from '../context.ts';
import type { JobFields } from './job-fields.ts';

/**
 * Wraps a {@link DoorFlowApi} for one job so every write it makes lands in the audit log with the
 * job's actor, run and roster key. People and credentials the job reads through the wrapper are
 * remembered, so an update or revoke records the fields as they were before the change without an
 * extra DoorFlow request.
 */

/** Who is acting, for one job or command. */
export interface AuditContext {
  actor: string;
  runId?: string;
  key?: string;
}

/** Fields of a person worth auditing (never images or free-form secrets). */
const PERSON_FIELDS = [
  'first_name',
  'last_name',
  'email',
  'system_id',
  'enabled',
  'salutation',
  'job_title',
  'department',
  'telephone',
  'mobile',
  'notes',
  'group_ids',
  'valid_from',
  'valid_to',
] as const;

function pick(source: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of names) if (source[name] !== undefined) out[name] = source[name];
  return out;
}

function credentialFields(c: Credential): Record<string, unknown> {
  return pick(c, ['credential_type_id', 'status', 'person_id', 'label', 'invitation_expires_at']);
}

/**
 * The wrapped API. Audit write failures are logged at error level and do not fail the DoorFlow
 * call: the change has already happened, and failing the job would only make a retry skip it.
 */
export function auditedDoorFlow<T extends DoorFlowApi>(
  api: T,
  audit: AuditLog,
  context: AuditContext,
  logger?: Logger,
): T {
  const people = new Map<number, Person>();
  const credentials = new Map<string, Credential>();
  const rememberPerson = (p: Person) => {
    people.set(p.id, p);
    return p;
  };
  const rememberCredential = (c: Credential) => {
    credentials.set(c.id, c);
    return c;
  };
  const write = async (entry: Parameters<AuditLog['record']>[0]) => {
    try {
      await audit.record(entry);
    } catch (err) {
      logger?.error({ err, action: entry.action, targetId: entry.targetId }, 'could not write the audit log');
    }
  };
  const base = { actor: context.actor, runId: context.runId, key: context.key };

  const overrides: DoorFlowApi = {
    async listPeople(filter, options) {
      const page = await api.listPeople(filter, options);
      for (const p of page.items) rememberPerson(p);
      return page;
    },
    async *iteratePeople(filter, options) {
      for await (const p of api.iteratePeople(filter, options)) yield rememberPerson(p);
    },
    async getPerson(personId, options) {
      return rememberPerson(await api.getPerson(personId, options));
    },
    async createPerson(input, options) {
      const person = rememberPerson(await api.createPerson(input, options));
      await write({
        ...base,
        action: 'person.create',
        targetType: 'person',
        targetId: String(person.id),
        after: pick(person, PERSON_FIELDS),
      });
      return person;
    },
    async deletePerson(personId, options) {
      await api.deletePerson(personId, options);
      await write({
        ...base,
        action: 'person.delete',
        targetType: 'person',
        targetId: String(personId),
        before: pick(people.get(personId) ?? { id: personId }, PERSON_FIELDS),
      });
    },
    async updatePerson(personId, input: PersonInput, options) {
      const known = people.get(personId);
      const changed = Object.keys(input);
      const person = rememberPerson(await api.updatePerson(personId, input, options));
      await write({
        ...base,
        action: 'person.update',
        targetType: 'person',
        targetId: String(personId),
        // A field the person did not have is recorded as null, so before/after line up.
        ...(known ? { before: Object.fromEntries(changed.map((f) => [f, known[f] ?? null])) } : {}),
        after: pick(input as Record<string, unknown>, changed),
      });
      return person;
    },
    async listPersonCredentials(personId, options) {
      const list = await api.listPersonCredentials(personId, options);
      for (const c of list) rememberCredential(c);
      return list;
    },
    async *iterateCredentials(options) {
      for await (const c of api.iterateCredentials(options)) yield rememberCredential(c);
    },
    async createCredential(personId, input, options) {
      const result = await api.createCredential(personId, input, options);
      rememberCredential(result.credential);
      // A 409 adoption changes nothing in DoorFlow, but the audit says which credential we took over.
      await write({
        ...base,
        action: result.created ? 'credential.create' : 'credential.adopt',
        targetType: 'credential',
        targetId: result.credential.id,
        after: { ...credentialFields(result.credential), person_id: personId },
      });
      return result;
    },
    async getCredential(personId, credentialId, options) {
      return rememberCredential(await api.getCredential(personId, credentialId, options));
    },
    async deleteCredential(personId, credentialId, options) {
      const known = credentials.get(credentialId);
      const result = await api.deleteCredential(personId, credentialId, options);
      await write({
        ...base,
        action: 'credential.revoke',
        targetType: 'credential',
        targetId: credentialId,
        before: known ? credentialFields(known) : { person_id: personId },
        after: { status: result.status === 202 ? 'revoking' : 'revoked', http_status: result.status },
      });
      return result;
    },
    listCredentialTypes: (options) => api.listCredentialTypes(options),
    getResource: (url, options) => api.getResource(url, options),
  };
  // Anything beyond DoorFlowApi (close, resolveHidCredentialTypeId …) passes through to the client.
  return new Proxy(api, {
    get(target, prop) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop as keyof DoorFlowApi];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Who the audit log says made a worker's changes. */
const AUDIT_ACTOR = `worker:${hostname()}:${process.pid}`;

/**
 * The audit hook around a step: the deps a job runs with, where (when the process keeps an audit
 * log) every DoorFlow write of the job is audited with its run and roster key.
 */
export function auditedDeps(
  deps: ProcessorDeps,
  job: Pick<JobFields, 'runId' | 'key'>,
  logger: Logger,
): ProcessorDeps {
  if (!deps.audit) return deps;
  const context: AuditContext = {
    actor: AUDIT_ACTOR,
    ...(job.runId !== undefined ? { runId: job.runId } : {}),
    ...(job.key !== undefined ? { key: job.key } : {}),
  };
  return { ...deps, doorflow: auditedDoorFlow(deps.doorflow, deps.audit, context, logger) };
}
