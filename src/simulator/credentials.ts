import type { Credential } from '../lib/doorflow/types.ts';
import { READ_PEOPLE, READ_TYPES, type Route, route, type SimContext, WRITE_PEOPLE } from './context.ts';
import {
  apiError,
  json,
  notFound,
  objectBody,
  paginate,
  type SimRequest,
  type SimResponse,
  unprocessable,
} from './http-util.ts';
import type { CredentialRecord, PersonRecord } from './state.ts';

/** Credential types and credentials (§3 of the contract). */

const LIMIT_REACHED_MESSAGE = 'HID Mobile licence limit reached, contact DoorFlow Support';

/**
 * A credential body. Only `GET` of one credential (`one`) carries `invitation_code`, as the guide
 * shows it (the spec's Credential has no such field); `codeInCreate` puts it on every body.
 */
function wire(ctx: SimContext, rec: CredentialRecord, one = false): Credential {
  const label = ctx.credentialTypes().find((t) => t.id === rec.credentialTypeId)?.label ?? 'Credential';
  const { includeInvitationCode, codeInCreate } = ctx.options();
  const show = !includeInvitationCode ? false : one ? 'pending-null' : codeInCreate;
  return ctx.state.toWire(rec, ctx.now(), show, label);
}

function personOf(req: SimRequest, ctx: SimContext): PersonRecord | undefined {
  const id = Number(req.params.personId);
  return Number.isInteger(id) ? ctx.state.livePerson(id) : undefined;
}

function credentialOf(req: SimRequest, ctx: SimContext): CredentialRecord | undefined {
  const person = personOf(req, ctx);
  const rec = ctx.state.findCredential(req.params.credentialId ?? '');
  return person && rec && rec.personId === person.person.id ? rec : undefined;
}

/** `{person_credential: {...}}` as documented; a flat body is accepted too. */
function credentialInput(body: unknown): Record<string, unknown> {
  const outer = objectBody(body);
  const inner = outer.person_credential;
  return typeof inner === 'object' && inner !== null ? (inner as Record<string, unknown>) : outer;
}

/** Checks a value credential's value; returns the value to store or the 422 errors. */
function checkValue(
  ctx: SimContext,
  typeSlug: string | null | undefined,
  typeId: number,
  raw: unknown,
  seq: number,
  exceptId?: string,
): { value: string } | { errors: Record<string, string[]> } {
  let value = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  if (!value) return { errors: { value: ["can't be blank"] } };
  if (typeSlug === 'pin') {
    if (value === '******') value = String(100_000 + ctx.random().int('code', seq + 0x4000_0000, 900_000));
    if (!/^\d{4,7}$/.test(value)) return { errors: { value: ['must be 4 to 7 digits'] } };
  }
  for (const c of ctx.state.credentials.values()) {
    if (!c.deleted && c.credentialTypeId === typeId && c.value === value && c.id !== exceptId) {
      return { errors: { value: ['has already been taken'] } };
    }
  }
  return { value };
}

function create(req: SimRequest, ctx: SimContext): SimResponse {
  const person = personOf(req, ctx);
  if (!person) return notFound('Person');
  const input = credentialInput(req.body);
  const typeId = Number(input.credential_type_id);
  if (
    input.credential_type_id === undefined ||
    input.credential_type_id === null ||
    input.credential_type_id === ''
  ) {
    return unprocessable({ credential_type_id: ["can't be blank"] });
  }
  const type = ctx.credentialTypes().find((t) => t.id === typeId);
  if (!type) return unprocessable({ credential_type_id: ['is not a credential type of this account'] });
  const options = ctx.options();
  const isHid = typeId === options.hidCredentialTypeId;
  // One live credential per type per person: the duplicate is answered with the existing one.
  const existing = ctx.state
    .credentialsOf(person.person.id)
    .find((c) => c.credentialTypeId === typeId && ctx.state.isLive(c));
  if (existing) return json(409, wire(ctx, existing));
  let value: string | null = null;
  if (isHid) {
    if (options.licenceLimit > 0 && ctx.state.liveHidCount() >= options.licenceLimit) {
      return {
        status: 422,
        body: { error: LIMIT_REACHED_MESSAGE, errors: { limit_reached: LIMIT_REACHED_MESSAGE } },
      };
    }
    const origo = ctx.faults.hidOrigoFailure(req.seq);
    if (origo) {
      return apiError(
        origo,
        origo === 502 ? 'bad_gateway' : 'service_unavailable',
        'HID Origo did not respond to the invitation request; please try again later',
      );
    }
  } else {
    const checked = checkValue(ctx, type.slug, typeId, input.value, req.seq);
    if ('errors' in checked) return unprocessable(checked.errors);
    value = checked.value;
  }
  const now = ctx.now();
  const identity = ctx.state.allocateCredentialIdentity();
  const rec: CredentialRecord = {
    id: identity.id,
    hidInvitationId: isHid ? identity.hidInvitationId : undefined,
    personId: person.person.id,
    credentialTypeId: typeId,
    isHid,
    value,
    status: isHid ? 'invited' : null,
    createdAtMs: now,
    invitationCode: isHid ? identity.code : undefined,
    invitationExpiresAtMs: isHid ? now + options.invitationTtlSec * 1000 : undefined,
    codeVisibleAtMs: now + options.invitationCodeDelayMs,
    deleted: false,
    ackTokens: new Set(),
  };
  ctx.state.addCredential(rec);
  ctx.lifecycle.created(rec);
  if (isHid) ctx.outbox.credentialCreated(person, rec.id, now);
  if (ctx.faults.lostResponse(req.seq, 'credential')) return { status: 201, lose: true };
  return json(201, wire(ctx, rec));
}

function get(req: SimRequest, ctx: SimContext): SimResponse {
  const rec = credentialOf(req, ctx);
  if (!rec) return notFound('Credential');
  // Fetching the resource with its ack_token acknowledges the webhook event.
  const ack = req.query.get('ack_token');
  if (ack && rec.ackTokens.delete(ack)) ctx.webhooks.ack(ack);
  return json(200, wire(ctx, rec, true));
}

function update(req: SimRequest, ctx: SimContext): SimResponse {
  const rec = ctx.state.credentials.get(req.params.credentialId ?? '');
  const person = personOf(req, ctx);
  if (!rec || rec.deleted || !person || rec.personId !== person.person.id) return notFound('Credential');
  const input = credentialInput(req.body);
  if (!rec.isHid && 'value' in input) {
    const slug = ctx.credentialTypes().find((t) => t.id === rec.credentialTypeId)?.slug;
    const checked = checkValue(ctx, slug, rec.credentialTypeId, input.value, req.seq, rec.id);
    if ('errors' in checked) return unprocessable(checked.errors);
    rec.value = checked.value;
  }
  return json(201, wire(ctx, rec));
}

function remove(req: SimRequest, ctx: SimContext): SimResponse {
  const rec = credentialOf(req, ctx);
  if (!rec || rec.status === 'revoked') return notFound('Credential');
  if (!rec.isHid) {
    ctx.lifecycle.destroyValue(rec);
    return { status: 200, text: '' };
  }
  // Mobile passes are revoked asynchronously through HID Origo.
  ctx.lifecycle.revoke(rec);
  return { status: 202, text: '' };
}

export function credentialRoutes(): Route[] {
  const byId = '/api/3/people/:personId/credentials/:credentialId';
  return [
    route(
      'GET',
      '/api/3/credential_types',
      (_req, ctx) => {
        const types = ctx.credentialTypes();
        if (ctx.options().credentialTypesFormat === 'wrapped') {
          return json(200, {
            credential_types: types.map((t) => ({ id: t.id, name: t.label, format: t.slug })),
          });
        }
        return json(200, types);
      },
      { scopes: READ_TYPES },
    ),
    route(
      'GET',
      '/api/3/credentials',
      (req, ctx) => {
        const all = [...ctx.state.credentials.values()].filter((c) => !c.deleted).map((c) => wire(ctx, c));
        return paginate(all, req.query, { perPage: 500, maxPerPage: 500 });
      },
      { scopes: READ_PEOPLE },
    ),
    route(
      'GET',
      '/api/3/people/:personId/credentials',
      (req, ctx) => {
        const person = personOf(req, ctx);
        if (!person) return notFound('Person');
        const items = ctx.state.credentialsOf(person.person.id).map((c) => wire(ctx, c));
        return paginate(items, req.query, { perPage: 500, maxPerPage: 500 });
      },
      { scopes: READ_PEOPLE },
    ),
    route('POST', '/api/3/people/:personId/credentials', create, { scopes: WRITE_PEOPLE }),
    route('GET', byId, get, { scopes: READ_PEOPLE }),
    route('PUT', byId, update, { scopes: WRITE_PEOPLE }),
    route('DELETE', byId, remove, { scopes: WRITE_PEOPLE }),
  ];
}
