import { type Route, route, type SimContext } from './context.ts';
import { json, objectBody, type SimRequest, type SimResponse } from './http-util.ts';

/** OAuth 2 endpoints (§1): authorization code + refresh grants, rotation, token info, revoke. */

function oauthError(status: number, error: string, description: string): SimResponse {
  return {
    status,
    body: { error, error_description: description },
    headers: { 'cache-control': 'no-store' },
  };
}

/** Client credentials from HTTP Basic or the form body. */
function clientCredentials(req: SimRequest): { clientId?: string; clientSecret?: string } {
  const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) {
      return {
        clientId: decodeURIComponent(decoded.slice(0, i)),
        clientSecret: decodeURIComponent(decoded.slice(i + 1)),
      };
    }
  }
  const form = objectBody(req.body);
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const out: { clientId?: string; clientSecret?: string } = {};
  const id = str(form.client_id);
  const secret = str(form.client_secret);
  if (id !== undefined) out.clientId = id;
  if (secret !== undefined) out.clientSecret = secret;
  return out;
}

function parseScopes(raw: unknown, allowed: string[]): string[] | undefined {
  if (typeof raw !== 'string' || raw.trim() === '') return allowed;
  const wanted = raw.trim().split(/[\s+]+/);
  return wanted.every((s) => allowed.includes(s)) ? wanted : undefined;
}

function tokenResponse(ctx: SimContext, clientId: string, scopes: string[], grantId?: string): SimResponse {
  const pair = ctx.tokens.issuePair(clientId, scopes, grantId);
  return json(
    200,
    {
      access_token: pair.accessToken,
      token_type: 'Bearer',
      expires_in: ctx.options().tokenLifetimeSec,
      refresh_token: pair.refreshToken,
      scope: scopes.join(' '),
      created_at: Math.floor(pair.grant.createdAtMs / 1000),
    },
    { 'cache-control': 'no-store' },
  );
}

function token(req: SimRequest, ctx: SimContext): SimResponse {
  const form = objectBody(req.body);
  const grantType = form.grant_type;
  if (typeof grantType !== 'string' || !grantType)
    return oauthError(400, 'invalid_request', 'grant_type is required');
  if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
    return oauthError(400, 'unsupported_grant_type', `grant_type ${grantType} is not supported`);
  }
  const { clientId, clientSecret } = clientCredentials(req);
  const client = ctx.tokens.client(clientId);
  const verifier = typeof form.code_verifier === 'string' ? form.code_verifier : undefined;
  // A PKCE verifier stands in for the secret on the code grant only.
  const secretOk =
    client &&
    (clientSecret === client.clientSecret ||
      (grantType === 'authorization_code' && verifier && clientSecret === undefined));
  if (!client || !secretOk) return oauthError(401, 'invalid_client', 'Client authentication failed');
  if (grantType === 'authorization_code') {
    if (typeof form.code !== 'string') return oauthError(400, 'invalid_request', 'code is required');
    const redirect = typeof form.redirect_uri === 'string' ? form.redirect_uri : undefined;
    const grant = ctx.tokens.redeemCode(form.code, client.clientId, redirect, verifier);
    if (!grant)
      return oauthError(
        400,
        'invalid_grant',
        'The authorization code is invalid, expired, used or was issued to another client',
      );
    return tokenResponse(ctx, client.clientId, grant.scopes);
  }
  if (typeof form.refresh_token !== 'string')
    return oauthError(400, 'invalid_request', 'refresh_token is required');
  const grant = ctx.tokens.useRefreshToken(form.refresh_token, client.clientId);
  if (!grant)
    return oauthError(400, 'invalid_grant', 'The refresh token is invalid, revoked or already used');
  const scopes = parseScopes(form.scope, grant.scopes);
  if (!scopes) return oauthError(400, 'invalid_scope', 'The requested scope exceeds the original grant');
  return tokenResponse(ctx, client.clientId, scopes, grant.grantId);
}

function tokenInfo(req: SimRequest, ctx: SimContext): SimResponse {
  const auth = ctx.tokens.authenticate(req.headers.authorization);
  if (!auth.ok) return oauthError(401, 'invalid_token', `The access token is ${auth.reason}`);
  const g = auth.grant;
  return json(200, {
    resource_owner_id: 1,
    account_id: ctx.options().accountId,
    scope: g.scopes,
    expires_in:
      g.expiresAtMs === undefined ? null : Math.max(0, Math.floor((g.expiresAtMs - ctx.now()) / 1000)),
    application: { uid: g.clientId ?? null },
    created_at: Math.floor(g.createdAtMs / 1000),
  });
}

function revoke(req: SimRequest, ctx: SimContext): SimResponse {
  const form = objectBody(req.body);
  if (typeof form.token === 'string') ctx.tokens.revoke(form.token);
  return json(200, {});
}

/** Auto-consents: redirects to `redirect_uri` with a fresh code (or returns it as JSON). */
function authorize(req: SimRequest, ctx: SimContext): SimResponse {
  const q = req.query;
  const client = ctx.tokens.client(q.get('client_id') ?? undefined);
  if (!client) return oauthError(400, 'invalid_client', 'Unknown client_id');
  if (q.get('response_type') !== 'code')
    return oauthError(400, 'unsupported_response_type', 'response_type must be code');
  const scopes = parseScopes(q.get('scope') ?? undefined, client.scopes);
  if (!scopes) return oauthError(400, 'invalid_scope', 'Unknown scope requested');
  const redirectUri = q.get('redirect_uri') ?? undefined;
  const code = ctx.tokens.issueCode({
    clientId: client.clientId,
    redirectUri,
    scopes,
    codeChallenge: q.get('code_challenge') ?? undefined,
  });
  if (!redirectUri) return json(200, { code });
  const target = new URL(redirectUri);
  target.searchParams.set('code', code);
  const state = q.get('state');
  if (state !== null) target.searchParams.set('state', state);
  return { status: 302, headers: { location: target.toString() } };
}

export function oauthRoutes(): Route[] {
  return [
    route('POST', '/oauth/token', token, { area: 'oauth' }),
    route('GET', '/oauth/token/info', tokenInfo, { area: 'oauth' }),
    route('POST', '/oauth/revoke', revoke, { area: 'oauth' }),
    route('GET', '/oauth/authorize', authorize, { area: 'oauth' }),
  ];
}
