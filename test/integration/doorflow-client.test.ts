import { RedisKeys } from '../../src/lib/store/keys.ts';
import type { RedisConnection } from '../../src/lib/core/redis.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/core/clock.ts';
import { loadConfig } from '../../src/lib/core/config.ts';
import { createDoorFlowClient, type DoorFlowClient } from '../../src/lib/doorflow/client.ts';
import { checkDoorFlowConnectivity } from '../../src/lib/doorflow/connectivity.ts';
import { DoorFlowError } from '../../src/lib/core/errors.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { type FakeDoorFlow, type FakeDoorFlowOptions, startFakeDoorFlow } from '../helpers/fake-doorflow.ts';
import { deletePrefix, testRedis, uniquePrefix } from '../helpers/redis.ts';

let redis: RedisConnection;
let prefix: string;
let fake: FakeDoorFlow | undefined;
const fakes: FakeDoorFlow[] = [];
const clients: DoorFlowClient[] = [];

beforeEach(() => {
  redis = testRedis();
  prefix = uniquePrefix('df');
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const f of fakes.splice(0)) await f.close();
  fake = undefined;
  await deletePrefix(redis, prefix);
  await redis.quit();
});

async function setup(
  fakeOptions: FakeDoorFlowOptions = {},
  env: Record<string, string> = {},
  clock?: ManualClock,
): Promise<{ fake: FakeDoorFlow; client: DoorFlowClient }> {
  fake = await startFakeDoorFlow(fakeOptions);
  fakes.push(fake);
  const config = loadConfig({
    DOORFLOW_BASE_URL: fake.url,
    DOORFLOW_ACCESS_TOKEN: 'fake-token',
    DOORFLOW_RATE_LIMIT: '200',
    DOORFLOW_TIMEOUT_MS: '5000',
    ...env,
  });
  const client = createDoorFlowClient({
    config: config.doorflow,
    redis,
    keys: new RedisKeys(prefix),
    logger: silentLogger(),
    ...(clock ? { clock } : {}),
    ...(config.encryptionKey ? { encryptionKey: config.encryptionKey } : {}),
  });
  clients.push(client);
  return { fake, client };
}

async function caught(promise: Promise<unknown>): Promise<DoorFlowError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DoorFlowError);
  return err as DoorFlowError;
}

const refreshEnv = {
  DOORFLOW_ACCESS_TOKEN: 'stale-access',
  DOORFLOW_REFRESH_TOKEN: 'refresh-0',
  DOORFLOW_CLIENT_ID: 'client-1',
  DOORFLOW_CLIENT_SECRET: 'secret-1',
};
const refreshFake = {
  accessTokens: [],
  refreshToken: 'refresh-0',
  clientId: 'client-1',
  clientSecret: 'secret-1',
};

describe('DoorFlow client over HTTP', () => {
  it('walks 250 people in three pages of 100 using the Total header', async () => {
    const { fake, client } = await setup({ people: 250 });
    const ids: number[] = [];
    for await (const person of client.iteratePeople()) ids.push(person.id);
    expect(ids).toHaveLength(250);
    expect(new Set(ids).size).toBe(250);
    const pages = fake.requests.filter((r) => r.path === '/api/3/people');
    expect(pages.map((r) => [r.query.get('page'), r.query.get('per_page')])).toEqual([
      ['1', '100'],
      ['2', '100'],
      ['3', '100'],
    ]);
    const third = await client.listPeople({ page: 3, per_page: 500 });
    expect(third).toMatchObject({ total: 250, perPage: 100, page: 3 });
    expect(third.items).toHaveLength(50);
    const bySystemId = await client.listPeople({ system_id: 'S7' });
    expect(bySystemId.items.map((p) => p.id)).toEqual([7]);
  });

  it('maps a 422 to a typed error with field errors, and limit_reached to licence_limit', async () => {
    const { client } = await setup({ people: 1, licenceLimit: 0 });
    const invalid = await caught(client.createPerson({ first_name: 'Only' }));
    expect(invalid).toMatchObject({ code: 'validation_failed', status: 422, retryable: false });
    expect(invalid.fieldErrors).toEqual({ first_name: ["can't be blank"] });
    const licence = await caught(client.createCredential(1, { credential_type_id: 8 }));
    expect(licence).toMatchObject({ code: 'licence_limit', status: 422, retryable: false });
    expect(licence.fieldErrors.limit_reached).toEqual([
      'HID Mobile licence limit reached, contact DoorFlow Support',
    ]);
    const badType = await caught(client.createCredential(1, { credential_type_id: 999 }));
    expect(badType.fieldErrors).toEqual({ credential_type_id: ['is not valid'] });
  });

  it('returns the existing credential on 409 and keeps invitation fields and unknown fields', async () => {
    const { fake, client } = await setup({ people: 1, invitationCode: 'ABCD-EFGH-JKLM-NPQR' });
    const first = await client.createCredential(1, { credential_type_id: 8 });
    expect(first.created).toBe(true);
    expect(first.credential).toMatchObject({
      status: 'invited',
      invitation_code: 'ABCD-EFGH-JKLM-NPQR',
      future_field: { nested: true },
    });
    expect(first.credential.invitation_expires_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    const second = await client.createCredential(1, { credential_type_id: 8 });
    expect(second).toEqual({ credential: first.credential, created: false });
    const posts = fake.requests.filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.status)).toEqual([201, 409]);
    const deleted = await client.deleteCredential(1, first.credential.id);
    expect(deleted).toEqual({ status: 202 });
    const again = await client.getCredential(1, first.credential.id, { ackToken: 'ack-123' });
    expect(again.status).toBe('revoking');
    expect(fake.requests.at(-1)?.query.get('ack_token')).toBe('ack-123');
    expect(await client.listPersonCredentials(1)).toHaveLength(1);
    // Credential lists are read 500 a page (DoorFlow's default for them), people 100.
    const credentialLists = fake.requests.filter(
      (r) => r.method === 'GET' && r.path.endsWith('/credentials'),
    );
    expect(credentialLists.map((r) => r.query.get('per_page'))).toEqual(['500']);
    for await (const _ of client.iterateCredentials()) break;
    expect(fake.requests.at(-1)?.query.get('per_page')).toBe('500');
  });

  it('reads credential types as a bare array or wrapped, and resolves the HID type id', async () => {
    const { client } = await setup({ typesShape: 'wrapped', hidTypeId: 14 });
    const types = await client.listCredentialTypes();
    expect(types.map((t) => t.id)).toEqual([1, 14]);
    expect(await client.resolveHidCredentialTypeId()).toBe(14);
    const bare = await setup({ hidTypeId: 9 }, { HID_CREDENTIAL_TYPE_ID: '21' });
    expect((await bare.client.listCredentialTypes()).map((t) => t.id)).toEqual([1, 9]);
    expect(await bare.client.resolveHidCredentialTypeId()).toBe(21);
  });

  it('fetches webhook resources only from the DoorFlow origin', async () => {
    const { fake, client } = await setup({ people: 1 });
    const { credential } = await client.createCredential(1, { credential_type_id: 8 });
    const body = await client.getResource(
      `${fake.url}/api/3/people/1/credentials/${credential.id}?ack_token=ack-9`,
    );
    expect(body).toMatchObject({ id: credential.id });
    expect(fake.requests.at(-1)?.query.get('ack_token')).toBe('ack-9');
    const before = fake.requests.length;
    const foreign = await caught(client.getResource('http://127.0.0.2:1/api/3/people/1?ack_token=x'));
    expect(foreign).toMatchObject({ code: 'foreign_resource_url', retryable: false });
    expect(foreign.message).not.toContain('ack_token');
    expect(fake.requests.length).toBe(before);
  });

  it('on 401 refreshes the token once, stores the rotated pair in Redis, and retries the call', async () => {
    const { fake, client } = await setup({ ...refreshFake, people: 3 }, refreshEnv);
    const page = await client.listPeople();
    expect(page.items).toHaveLength(3);
    expect(fake.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /api/3/people 401',
      'POST /oauth/token 200',
      'GET /api/3/people 200',
    ]);
    const stored = await redis.hgetall(`${prefix}:tokens`);
    expect(stored.refresh).toBe(fake.currentRefreshToken());
    expect(stored.access).toBe(fake.requests.at(-1)?.token);
    expect(Number(stored.expiresAt)).toBeGreaterThan(Date.now());
    expect(await redis.exists(`${prefix}:tokens:lock`)).toBe(0);
  });

  it('with ENCRYPTION_KEY the shared tokens are stored encrypted, and a second process still uses them', async () => {
    const key = 'ab'.repeat(32);
    const { fake, client } = await setup(
      { ...refreshFake, people: 2 },
      { ...refreshEnv, ENCRYPTION_KEY: key },
    );
    await client.listPeople();
    const rotatedAccess = fake.requests.at(-1)?.token;
    const rotatedRefresh = fake.currentRefreshToken();
    expect(rotatedAccess).toBeTruthy();
    const stored = JSON.stringify(await redis.hgetall(`${prefix}:tokens`));
    for (const secret of [rotatedAccess!, rotatedRefresh!, 'stale-access', 'refresh-0']) {
      expect(stored).not.toContain(secret);
    }
    // A second client of the fleet reads the sealed pair and needs no refresh of its own.
    const second = createDoorFlowClient({
      config: loadConfig({ ...refreshEnv, DOORFLOW_BASE_URL: fake.url, ENCRYPTION_KEY: key }).doorflow,
      redis,
      keys: new RedisKeys(prefix),
      logger: silentLogger(),
      encryptionKey: Buffer.from(key, 'hex'),
    });
    clients.push(second);
    await second.listPeople();
    expect(fake.tokenRequests).toHaveLength(1);
    expect(fake.requests.at(-1)?.token).toBe(rotatedAccess);
  });

  it('refreshes 5 minutes before expiry without waiting for a 401', async () => {
    const clock = new ManualClock(Date.now());
    const { fake, client } = await setup({ ...refreshFake, people: 1 }, refreshEnv, clock);
    await client.listPeople();
    expect(fake.tokenRequests).toHaveLength(1);
    clock.advance(54 * 60_000);
    await client.listPeople();
    expect(fake.tokenRequests).toHaveLength(1);
    clock.advance(2 * 60_000); // 4 minutes left
    await client.listPeople();
    expect(fake.tokenRequests).toHaveLength(2);
    expect(fake.requests.filter((r) => r.status === 401)).toHaveLength(1);
  });

  it('a refused refresh pauses DoorFlow access fleet-wide and the dead refresh token is not presented again', async () => {
    const { fake, client } = await setup({ ...refreshFake, refreshToken: 'something-else' }, refreshEnv);
    const first = await caught(client.listPeople());
    expect(first).toMatchObject({ code: 'auth_paused', upstreamCode: 'invalid_grant', retryable: true });
    const second = await caught(client.listPeople());
    expect(second).toMatchObject({ code: 'auth_paused', retryable: true });
    expect(fake.tokenRequests).toHaveLength(1);
    expect(await client.authPause()).toMatchObject({ kind: 'grant', upstreamCode: 'invalid_grant' });
    expect((await client.tokenState()).deadRefresh).toBeDefined();
    // A new refresh token lifts the pause: the next call refreshes with it.
    await client.replaceToken({ refresh: 'something-else' });
    expect(await client.authPause()).toBeUndefined();
    await client.listPeople();
    expect(fake.tokenRequests).toHaveLength(2);
  });

  it('invalid_client pauses as a configuration error and leaves the refresh token untouched', async () => {
    const { fake, client } = await setup(refreshFake, { ...refreshEnv, DOORFLOW_CLIENT_SECRET: 'wrong' });
    const err = await caught(client.listPeople());
    expect(err).toMatchObject({ code: 'auth_paused', upstreamCode: 'invalid_client', retryable: true });
    expect(await client.authPause()).toMatchObject({ kind: 'client', upstreamCode: 'invalid_client' });
    const state = await client.tokenState();
    expect(state.refresh).toBe('refresh-0');
    expect(state.deadRefresh).toBeUndefined();
    const calls = fake.requests.length + fake.tokenRequests.length;
    await caught(client.listPeople());
    expect(fake.requests.length + fake.tokenRequests.length).toBe(calls);
  });

  it('a 401 with a static bearer token is not retryable', async () => {
    const { fake, client } = await setup({ accessTokens: ['other'] });
    const err = await caught(client.getPerson(1));
    expect(err).toMatchObject({ code: 'unauthorized', status: 401, retryable: false });
    expect(fake.requests).toHaveLength(1);
  });

  it('retries a GET after a 5xx but never a POST', async () => {
    const { fake, client } = await setup({ people: 1 });
    fake.inject({
      method: 'GET',
      path: /^\/api\/3\/people\/1$/,
      status: 503,
      body: { error: 'unavailable' },
    });
    expect((await client.getPerson(1)).id).toBe(1);
    expect(fake.requests.map((r) => r.status)).toEqual([503, 200]);
    fake.inject({ method: 'POST', path: /people$/, status: 500, body: { error: 'internal_server_error' } });
    const err = await caught(client.createPerson({ first_name: 'A', last_name: 'B' }));
    expect(err).toMatchObject({ code: 'server_error', status: 500, retryable: true });
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('a 429 pauses the fleet budget for Retry-After, then the GET goes through', async () => {
    const { fake, client } = await setup({ people: 1 });
    fake.inject({ method: 'GET', path: /people$/, status: 429, headers: { 'Retry-After': '1' }, body: {} });
    const started = performance.now();
    await client.listPeople();
    const [limited, retried] = fake.requests;
    expect(limited?.status).toBe(429);
    expect(retried?.status).toBe(200);
    expect((retried?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(995);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(client.budgetStats().pausesSet).toBe(1);
  });

  it('waiting for the budget honours the AbortSignal', async () => {
    const { fake, client } = await setup({ people: 1 });
    await redis.set(`${prefix}:budget:pause`, '1', 'PX', 10_000);
    const started = performance.now();
    const err = await caught(client.listPeople({}, { signal: AbortSignal.timeout(200) }));
    expect(err).toMatchObject({ code: 'aborted', retryable: true });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(fake.requests).toHaveLength(0);
  });

  it('config check connectivity lists credential types and reports the HID type id', async () => {
    const { client } = await setup({ hidTypeId: 12 });
    const config = loadConfig({
      DOORFLOW_BASE_URL: fake?.url ?? '',
      DOORFLOW_ACCESS_TOKEN: 'fake-token',
    }).doorflow;
    const report = await checkDoorFlowConnectivity(client, config);
    expect(report).toMatchObject({ ok: true, hidCredentialTypeId: 12, hidSource: 'discovered' });
    expect(report.detail).toContain('HID Mobile type id 12 (discovered)');
    const denied = await setup({ accessTokens: ['other'] });
    const failed = await checkDoorFlowConnectivity(denied.client, config);
    expect(failed.ok).toBe(false);
    expect(failed.detail).toContain('unauthorized');
    expect(failed.detail).not.toContain('fake-token');
  });

  it('two clients on separate connections, both due for refresh at once, refresh once', async () => {
    const clock = new ManualClock(Date.now());
    const first = await setup({ ...refreshFake, people: 1, tokenDelayMs: 200 }, refreshEnv, clock);
    await first.client.listPeople();
    const other = testRedis();
    try {
      const config = loadConfig({
        ...refreshEnv,
        DOORFLOW_BASE_URL: first.fake.url,
        DOORFLOW_RATE_LIMIT: '200',
      });
      const second = createDoorFlowClient({
        config: config.doorflow,
        redis: other,
        keys: new RedisKeys(prefix),
        logger: silentLogger(),
        clock,
      });
      clients.push(second);
      clock.advance(58 * 60_000);
      await Promise.all([first.client.listPeople(), second.listPeople(), first.client.getPerson(1)]);
      expect(first.fake.tokenRequests.map((t) => t.ok)).toEqual([true, true]);
      expect(first.fake.requests.filter((r) => r.status === 401)).toHaveLength(1);
    } finally {
      await other.quit();
    }
  });

  it('a time-out is a retryable timeout error; a GET is tried three times, each spending budget', async () => {
    const { fake, client } = await setup({ people: 1 }, { DOORFLOW_TIMEOUT_MS: '300' });
    fake.inject({ method: 'GET', path: /people\/1$/, status: 200, body: {}, delayMs: 1_000, times: 3 });
    const err = await caught(client.getPerson(1));
    expect(err).toMatchObject({ code: 'timeout', retryable: true, status: undefined });
    expect(fake.requests).toHaveLength(3);
    expect(client.budgetStats().granted).toBe(3);
  });
});
