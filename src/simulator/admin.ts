import { ZodError } from 'zod';
import type { Person } from '../lib/doorflow/types.ts';
import { type Route, route, type SimContext } from './context.ts';
import { json, objectBody, type SimRequest, type SimResponse } from './http-util.ts';
import { simulatorPatchSchema } from './options.ts';
import type { CredentialRecord } from './state.ts';

/**
 * The unauthenticated `/__sim` surface for tests and rehearsals (served only when `admin` is on):
 * stats, reset, live reconfiguration, lifecycle hooks and raw state.
 */

/** A credential as the simulator holds it, secrets included (tests and admin only). */
export interface SimCredentialView {
  id: string;
  hid_invitation_id: string | null;
  person_id: number;
  credential_type_id: number;
  status: string | null;
  value: string | null;
  invitation_code: string | null;
  invitation_expires_at: string | null;
  created_at: string;
}

function credentialView(rec: CredentialRecord): SimCredentialView {
  return {
    id: rec.id,
    hid_invitation_id: rec.hidInvitationId ?? null,
    person_id: rec.personId,
    credential_type_id: rec.credentialTypeId,
    status: rec.status,
    value: rec.value,
    invitation_code: rec.invitationCode ?? null,
    invitation_expires_at:
      rec.invitationExpiresAtMs === undefined ? null : new Date(rec.invitationExpiresAtMs).toISOString(),
    created_at: new Date(rec.createdAtMs).toISOString(),
  };
}

/** Every person, deleted ones flagged. */
export function peopleView(ctx: SimContext): (Person & { deleted: boolean })[] {
  return [...ctx.state.people.values()].map((r) => ({ ...r.person, deleted: r.deleted }));
}

export function credentialsView(ctx: SimContext): SimCredentialView[] {
  return [...ctx.state.credentials.values()].filter((c) => !c.deleted).map(credentialView);
}

function configure(req: SimRequest, ctx: SimContext): SimResponse {
  try {
    ctx.configure(simulatorPatchSchema.parse(req.body ?? {}));
    return json(200, ctx.options());
  } catch (err) {
    if (err instanceof ZodError) {
      return json(400, {
        error: 'invalid_config',
        issues: err.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      });
    }
    throw err;
  }
}

function accept(req: SimRequest, ctx: SimContext): SimResponse {
  const body = objectBody(req.body);
  const code = typeof body.code === 'string' ? body.code : '';
  const result = ctx.lifecycle.accept(code);
  if (result.ok) return json(200, credentialView(result.credential));
  return json(result.reason === 'not_found' ? 404 : 409, { error: result.reason });
}

function expire(req: SimRequest, ctx: SimContext): SimResponse {
  const ids = objectBody(req.body).credential_ids;
  const list = Array.isArray(ids) ? ids.filter((x): x is string => typeof x === 'string') : undefined;
  return json(200, { expired: ctx.lifecycle.expireInvitations(list) });
}

function stall(req: SimRequest, ctx: SimContext): SimResponse {
  const on = objectBody(req.body).on;
  ctx.lifecycle.stallProvisioning(on !== false);
  return json(200, { stalled: ctx.lifecycle.stalled });
}

/** The OAuth client a `/__sim/oauth/*` body names (`client_id`), else the first configured one. */
function bodyClient(body: Record<string, unknown>, ctx: SimContext) {
  return ctx.tokens.client(
    typeof body.client_id === 'string' ? body.client_id : ctx.options().oauthClients[0]?.clientId,
  );
}

function issueCode(req: SimRequest, ctx: SimContext): SimResponse {
  const body = objectBody(req.body);
  const client = bodyClient(body, ctx);
  if (!client) return json(404, { error: 'unknown client' });
  const scopes = typeof body.scope === 'string' ? body.scope.split(/\s+/) : client.scopes;
  const redirectUri = typeof body.redirect_uri === 'string' ? body.redirect_uri : undefined;
  return json(200, { code: ctx.tokens.issueCode({ clientId: client.clientId, scopes, redirectUri }) });
}

/** A new grant for the first (or a named) client, as if the account owner re-authorized: the token pair. */
function issueGrant(req: SimRequest, ctx: SimContext): SimResponse {
  const client = bodyClient(objectBody(req.body), ctx);
  if (!client) return json(404, { error: 'unknown client' });
  const pair = ctx.tokens.issuePair(client.clientId, client.scopes);
  return json(200, { access_token: pair.accessToken, refresh_token: pair.refreshToken });
}

export function adminRoutes(): Route[] {
  const admin = { area: 'admin' as const };
  return [
    route('GET', '/__sim/stats', (_r, ctx) => json(200, ctx.stats()), admin),
    route(
      'POST',
      '/__sim/reset',
      (_r, ctx) => {
        ctx.reset();
        return json(200, { result: 'ok' });
      },
      admin,
    ),
    route('GET', '/__sim/config', (_r, ctx) => json(200, ctx.options()), admin),
    route('PUT', '/__sim/config', configure, admin),
    route('POST', '/__sim/config', configure, admin),
    route('POST', '/__sim/invitations/accept', accept, admin),
    route('POST', '/__sim/invitations/expire', expire, admin),
    route('POST', '/__sim/provisioning/stall', stall, admin),
    route(
      'POST',
      '/__sim/tokens/expire',
      (_r, ctx) => json(200, { expired: ctx.tokens.expireAccessTokens() }),
      admin,
    ),
    route('POST', '/__sim/oauth/code', issueCode, admin),
    route(
      'POST',
      '/__sim/oauth/revoke-all',
      (_r, ctx) => json(200, { revoked: ctx.tokens.revokeAll() }),
      admin,
    ),
    route('POST', '/__sim/oauth/grant', issueGrant, admin),
    route('GET', '/__sim/people', (_r, ctx) => json(200, peopleView(ctx)), admin),
    route('GET', '/__sim/credentials', (_r, ctx) => json(200, credentialsView(ctx)), admin),
    route('GET', '/__sim/outbox', (_r, ctx) => json(200, { mails: ctx.outbox.mails }), admin),
    route(
      'GET',
      '/__sim/webhooks',
      (_r, ctx) => json(200, { stats: ctx.webhooks.snapshot(), deliveries: ctx.webhooks.log }),
      admin,
    ),
  ];
}
