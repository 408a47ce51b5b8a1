import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../../src/simulator/index.ts';

let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({
    admin: true,
    accessTokens: ['sim-token', { token: 'read-only', scopes: ['account.person.readonly'] }],
    oauthClients: [{ clientId: 'app', clientSecret: 'app-secret' }],
    tokenLifetimeSec: 120,
  });
});
afterAll(() => sim.close());

function form(fields: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(`${sim.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

async function people(token: string | undefined) {
  return fetch(`${sim.url}/api/3/people`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
}

interface TokenBody {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  created_at: number;
}

describe('simulator OAuth', () => {
  it('authorization_code grant → pair; the code is single-use; rotation kills the old refresh token', async () => {
    const code = sim.issueAuthorizationCode({ clientId: 'app' });
    const first = await form({
      grant_type: 'authorization_code',
      code,
      client_id: 'app',
      client_secret: 'app-secret',
    });
    expect(first.status).toBe(200);
    const pair = (await first.json()) as TokenBody;
    expect(pair).toMatchObject({ token_type: 'Bearer', expires_in: 120 });
    expect(pair.scope.split(' ')).toContain('account.person');
    expect(Math.abs(pair.created_at - Date.now() / 1000)).toBeLessThan(5);
    expect((await people(pair.access_token)).status).toBe(200);

    const again = await form({
      grant_type: 'authorization_code',
      code,
      client_id: 'app',
      client_secret: 'app-secret',
    });
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_grant' });

    const refreshed = await form({
      grant_type: 'refresh_token',
      refresh_token: pair.refresh_token,
      client_id: 'app',
      client_secret: 'app-secret',
    });
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as TokenBody;
    expect(next.refresh_token).not.toBe(pair.refresh_token);
    expect(next.access_token).not.toBe(pair.access_token);

    const reuse = await form({
      grant_type: 'refresh_token',
      refresh_token: pair.refresh_token,
      client_id: 'app',
      client_secret: 'app-secret',
    });
    expect(reuse.status).toBe(400);
    expect(await reuse.json()).toMatchObject({ error: 'invalid_grant' });
    expect(sim.stats().oauth.refreshTokenReuse).toBe(1);

    // The rotated one still works (client credentials through HTTP Basic this time).
    const basic = `Basic ${Buffer.from('app:app-secret').toString('base64')}`;
    const third = await form(
      { grant_type: 'refresh_token', refresh_token: next.refresh_token },
      { authorization: basic },
    );
    expect(third.status).toBe(200);
  });

  it('bad client → 401 invalid_client; unknown grant → 400 unsupported_grant_type; missing → invalid_request', async () => {
    const code = sim.issueAuthorizationCode({ clientId: 'app' });
    const wrong = await form({
      grant_type: 'authorization_code',
      code,
      client_id: 'app',
      client_secret: 'nope',
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });
    const unknown = await form({
      grant_type: 'refresh_token',
      refresh_token: 'x',
      client_id: 'ghost',
      client_secret: 'x',
    });
    expect(unknown.status).toBe(401);
    const unsupported = await form({ grant_type: 'password', client_id: 'app', client_secret: 'app-secret' });
    expect(unsupported.status).toBe(400);
    expect(await unsupported.json()).toMatchObject({ error: 'unsupported_grant_type' });
    const missing = await form({ client_id: 'app', client_secret: 'app-secret' });
    expect(await missing.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('GET /oauth/authorize redirects with a code and state; the code redeems with its redirect_uri', async () => {
    const redirect = 'http://127.0.0.1:9/callback';
    const res = await fetch(
      `${sim.url}/oauth/authorize?response_type=code&client_id=app&redirect_uri=${encodeURIComponent(redirect)}&scope=account.person&state=xyz`,
      { redirect: 'manual' },
    );
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location') ?? '');
    expect(location.searchParams.get('state')).toBe('xyz');
    const code = location.searchParams.get('code') ?? '';
    const token = await form({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirect,
      client_id: 'app',
      client_secret: 'app-secret',
    });
    expect(token.status).toBe(200);
    expect(((await token.json()) as TokenBody).scope).toBe('account.person');
  });

  it('token info, revoke → 200 {}, and revoked tokens stop working', async () => {
    const code = sim.issueAuthorizationCode({ clientId: 'app' });
    const pair = (await (
      await form({ grant_type: 'authorization_code', code, client_id: 'app', client_secret: 'app-secret' })
    ).json()) as TokenBody;
    const info = await fetch(`${sim.url}/oauth/token/info`, {
      headers: { authorization: `Bearer ${pair.access_token}` },
    });
    expect(info.status).toBe(200);
    const body = (await info.json()) as { scope: string[]; expires_in: number; account_id: string };
    expect(body.scope).toContain('account.person');
    expect(body.expires_in).toBeGreaterThan(100);
    expect(body.account_id).toBe(sim.options().accountId);

    const revoke = await fetch(`${sim.url}/oauth/revoke`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('app:app-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: `token=${pair.access_token}`,
    });
    expect(revoke.status).toBe(200);
    expect(await revoke.json()).toEqual({});
    expect((await people(pair.access_token)).status).toBe(401);
  });

  it('every /api/3 route needs a bearer: missing, invalid and expired → 401; a missing scope → 403 forbidden', async () => {
    const missing = await people(undefined);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({
      error: 'unauthorized',
      error_description: expect.any(String),
    });
    expect((await people('not-a-token')).status).toBe(401);
    expect((await fetch(`${sim.url}/api/3/credentials`)).status).toBe(401);
    expect((await fetch(`${sim.url}/api/3/credential_types`)).status).toBe(401);
    expect((await fetch(`${sim.url}/api/3/people/1/credentials`, { method: 'POST' })).status).toBe(401);

    const code = sim.issueAuthorizationCode({ clientId: 'app' });
    const pair = (await (
      await form({ grant_type: 'authorization_code', code, client_id: 'app', client_secret: 'app-secret' })
    ).json()) as TokenBody;
    expect((await people(pair.access_token)).status).toBe(200);
    expect(sim.expireAccessTokens()).toBeGreaterThan(0);
    const expired = await people(pair.access_token);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { error_description: string }).error_description).toMatch(/expired/);
    // Static tokens do not expire.
    expect((await people('sim-token')).status).toBe(200);

    expect((await people('read-only')).status).toBe(200);
    const write = await fetch(`${sim.url}/api/3/people`, {
      method: 'POST',
      headers: { authorization: 'Bearer read-only', 'content-type': 'application/json' },
      body: JSON.stringify({ first_name: 'A', last_name: 'B' }),
    });
    expect(write.status).toBe(403);
    expect(await write.json()).toMatchObject({ error: 'forbidden' });
    const types = await fetch(`${sim.url}/api/3/credential_types`, {
      headers: { authorization: 'Bearer read-only' },
    });
    expect(types.status).toBe(403);
  });
});
