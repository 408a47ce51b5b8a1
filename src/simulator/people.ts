import type { Person } from '../lib/doorflow/types.ts';
import { READ_PEOPLE, type Route, route, type SimContext, WRITE_PEOPLE } from './context.ts';
import {
  json,
  notFound,
  objectBody,
  paginate,
  type SimRequest,
  type SimResponse,
  unprocessable,
} from './http-util.ts';
import type { PersonRecord } from './state.ts';

/** People routes (§2 of the contract): int ids, 201 on create and update, soft delete. */

const STRING_FIELDS = [
  'first_name',
  'last_name',
  'email',
  'system_id',
  'salutation',
  'job_title',
  'department',
  'telephone',
  'mobile',
  'notes',
  'barcode',
  'custom_1',
  'custom_2',
  'custom_3',
  'custom_4',
  'custom_5',
  'valid_from',
  'valid_to',
] as const;

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** Accepts the flat body (spec) and the `{person: {...}}` wrapper (seed, SDK). */
function personInput(body: unknown): Record<string, unknown> {
  const outer = objectBody(body);
  const wrapped = outer.person;
  return typeof wrapped === 'object' && wrapped !== null && !Array.isArray(wrapped)
    ? (wrapped as Record<string, unknown>)
    : outer;
}

function isIntArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isInteger(x));
}

/** Applies `input` onto `target`, collecting DoorFlow-style field errors. */
function apply(
  ctx: SimContext,
  target: Person,
  input: Record<string, unknown>,
  creating: boolean,
): Record<string, string[]> {
  const errors: Record<string, string[]> = {};
  const next: Record<string, unknown> = { ...target };
  for (const field of STRING_FIELDS) {
    if (!(field in input)) continue;
    const v = input[field];
    if (v === null || typeof v === 'string') next[field] = typeof v === 'string' ? v : null;
    else if (typeof v === 'number') next[field] = String(v);
    else errors[field] = ['is invalid'];
  }
  for (const name of ['first_name', 'last_name'] as const) {
    if ((creating || name in input) && !String(next[name] ?? '').trim()) errors[name] = ["can't be blank"];
  }
  const email = typeof next.email === 'string' ? next.email.trim() : '';
  if ('email' in input && email) {
    if (!EMAIL.test(email)) errors.email = ['is invalid'];
    else if (ctx.state.emailTaken(email, creating ? undefined : target.id))
      errors.email = ['has already been taken'];
  }
  if ('enabled' in input) {
    if (typeof input.enabled === 'boolean') next.enabled = input.enabled;
    else errors.enabled = ['is invalid'];
  }
  for (const field of ['group_ids', 'role_ids'] as const) {
    if (!(field in input)) continue;
    // The array replaces the whole set, as DoorFlow does.
    if (isIntArray(input[field])) next[field] = [...(input[field] as number[])];
    else errors[field] = ['is invalid'];
  }
  if ('organisation_id' in input) next.organisation_id = input.organisation_id;
  if (Object.keys(errors).length === 0) {
    const before = target.email;
    Object.assign(target, next);
    if (!creating) ctx.state.reindexEmail(target.id, before, target.email);
    target.groups = (target.group_ids ?? []).map((id) => ({ id }));
    target.roles = ((target.role_ids as number[] | undefined) ?? []).map((id) => ({ id }));
  }
  return errors;
}

function touch(rec: PersonRecord, nowMs: number): void {
  rec.updatedAtMs = nowMs;
  rec.person.updated_at = new Date(nowMs).toISOString();
}

function personFrom(req: SimRequest, ctx: SimContext): PersonRecord | undefined {
  const id = Number(req.params.personId);
  return Number.isInteger(id) ? ctx.state.livePerson(id) : undefined;
}

function create(req: SimRequest, ctx: SimContext): SimResponse {
  const now = ctx.now();
  const iso = new Date(now).toISOString();
  const person: Person = {
    id: 0,
    first_name: '',
    last_name: '',
    email: null,
    system_id: null,
    enabled: true,
    image_url: null,
    image_thumbnail_url: null,
    group_ids: [],
    role_ids: [],
    created_at: iso,
    updated_at: iso,
  };
  const errors = apply(ctx, person, personInput(req.body), true);
  if (Object.keys(errors).length > 0) return unprocessable(errors);
  person.id = ctx.state.nextPersonId();
  ctx.state.people.set(person.id, { person, deleted: false, updatedAtMs: now });
  ctx.state.reindexEmail(person.id, undefined, person.email);
  if (ctx.faults.lostResponse(req.seq, 'person')) return { status: 201, lose: true };
  return json(201, person);
}

function list(req: SimRequest, ctx: SimContext): SimResponse {
  const q = req.query;
  const systemId = q.get('system_id');
  const email = q.get('email')?.toLowerCase();
  const since = q.get('since_utc') ?? q.get('since');
  const sinceMs = since ? Date.parse(since) : Number.NaN;
  if (since && Number.isNaN(sinceMs)) return unprocessable({ since_utc: ['is invalid'] });
  const people = ctx.state
    .livePeople()
    .filter((r) => systemId === null || r.person.system_id === systemId)
    .filter((r) => email === undefined || (r.person.email ?? '').toLowerCase().includes(email))
    .filter((r) => Number.isNaN(sinceMs) || r.updatedAtMs >= sinceMs)
    .sort((a, b) => a.person.id - b.person.id)
    .map((r) => r.person);
  return paginate(people, q, { perPage: 50, maxPerPage: 100 });
}

function update(req: SimRequest, ctx: SimContext): SimResponse {
  const rec = personFrom(req, ctx);
  if (!rec) return notFound('Person');
  const errors = apply(ctx, rec.person, personInput(req.body), false);
  if (Object.keys(errors).length > 0) return unprocessable(errors);
  touch(rec, ctx.now());
  return json(201, rec.person);
}

function remove(req: SimRequest, ctx: SimContext): SimResponse {
  const rec = personFrom(req, ctx);
  if (!rec) return notFound('Person');
  rec.deleted = true;
  ctx.state.reindexEmail(rec.person.id, rec.person.email, undefined);
  touch(rec, ctx.now());
  // A deleted person's mobile passes are revoked, freeing their licences.
  for (const c of ctx.state.credentialsOf(rec.person.id)) {
    if (c.isHid && ctx.state.isLive(c)) ctx.lifecycle.revoke(c);
  }
  return json(200, { result: 'ok' });
}

export function peopleRoutes(): Route[] {
  return [
    route('GET', '/api/3/people', list, { scopes: READ_PEOPLE }),
    route('POST', '/api/3/people', create, { scopes: WRITE_PEOPLE }),
    route(
      'GET',
      '/api/3/people/:personId',
      (req, ctx) => {
        const rec = personFrom(req, ctx);
        return rec ? json(200, rec.person) : notFound('Person');
      },
      { scopes: READ_PEOPLE },
    ),
    route('PUT', '/api/3/people/:personId', update, { scopes: WRITE_PEOPLE }),
    route('DELETE', '/api/3/people/:personId', remove, { scopes: WRITE_PEOPLE }),
  ];
}
