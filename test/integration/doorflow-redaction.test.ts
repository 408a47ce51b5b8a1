import { RedisKeys } from '../../src/lib/store/keys.ts';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import type { RedisConnection } from '../../src/lib/core/redis.ts';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../src/lib/core/config.ts';
import { secretValues } from '../../src/lib/core/config-describe.ts';
import { createDoorFlowClient, type DoorFlowClient } from '../../src/lib/doorflow/client.ts';
import { createLogger } from '../../src/lib/core/logger.ts';
import { freePort } from '../../src/lib/core/redis.ts';
import { type FakeDoorFlow, startFakeDoorFlow } from '../helpers/fake-doorflow.ts';
import { deletePrefix, testRedis, uniquePrefix } from '../helpers/redis.ts';

/**
 * Real client calls with known secrets; every byte of log output (debug level) and every way an
 * error can be serialised must be free of tokens, the client secret, the invitation code and the
 * webhook ack token. The client logs through a plain pino logger with no redaction at all, so
 * its own output must be clean by construction; the application logger (redact + scrub) logs the
 * results and errors the way callers will.
 */

const INVITATION_CODE = 'WXYZ-2345-ABCD-6789';
const ACK_TOKEN = 'ack-SECRET-0001';
const env = {
  DOORFLOW_ACCESS_TOKEN: 'access-SECRET-0001',
  DOORFLOW_REFRESH_TOKEN: 'refresh-SECRET-0001',
  DOORFLOW_CLIENT_ID: 'client-id-1',
  DOORFLOW_CLIENT_SECRET: 'client-SECRET-0001',
  DOORFLOW_RATE_LIMIT: '200',
  DOORFLOW_TIMEOUT_MS: '3000',
};

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

let redis: RedisConnection;
const prefixes: string[] = [];
let fake: FakeDoorFlow | undefined;
const clients: DoorFlowClient[] = [];

beforeEach(() => {
  redis = testRedis();
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await fake?.close();
  for (const p of prefixes.splice(0)) await deletePrefix(redis, p);
  await redis.quit();
});

describe('DoorFlow client log and error redaction', () => {
  it('leaks no token, client secret, invitation code or ack token into logs or error serialisations', async () => {
    fake = await startFakeDoorFlow({
      people: 2,
      accessTokens: [],
      refreshToken: env.DOORFLOW_REFRESH_TOKEN,
      clientId: env.DOORFLOW_CLIENT_ID,
      clientSecret: env.DOORFLOW_CLIENT_SECRET,
      invitationCode: INVITATION_CODE,
    });
    const clientLog = capture();
    const appLog = capture();
    const clientLogger = pino({ level: 'debug' }, clientLog.stream);
    const build = (config: Config) => {
      const prefix = uniquePrefix('redact');
      prefixes.push(prefix);
      const client = createDoorFlowClient({
        config: config.doorflow,
        redis,
        keys: new RedisKeys(prefix),
        logger: clientLogger,
      });
      clients.push(client);
      return client;
    };
    const config = loadConfig({ ...env, DOORFLOW_BASE_URL: fake.url });
    const app = createLogger({ level: 'debug', secrets: secretValues(config), destination: appLog.stream });
    const client = build(config);
    const errors: unknown[] = [];
    const attempt = async (label: string, call: () => Promise<unknown>) => {
      try {
        app.info({ result: await call() }, label);
      } catch (err) {
        errors.push(err);
        app.error({ err }, label);
      }
    };
    const server = fake;
    const echo = (req: { headers: Record<string, string | string[] | undefined> }) => ({
      error: 'internal_server_error',
      error_description: `rejected header ${String(req.headers.authorization)} for ${INVITATION_CODE}`,
      errors: { value: [`${String(req.headers.authorization)} is in use`] },
    });

    // 401 → refresh → retry; then a credential carrying the invitation code.
    await attempt('list', () => client.listPeople());
    await attempt('create credential', () => client.createCredential(1, { credential_type_id: 8 }));
    // Error bodies that echo the Authorization header (and the code), on a GET (retried) and a POST.
    server.inject({ method: 'GET', path: /people\/2$/, status: 500, body: echo, times: 3 });
    await attempt('get person', () => client.getPerson(2));
    server.inject({ method: 'POST', path: /credentials$/, status: 422, body: echo });
    await attempt('create credential 422', () => client.createCredential(2, { credential_type_id: 8 }));
    // A webhook resource URL with its ack token: a 404 and a foreign origin.
    await attempt('resource', () =>
      client.getResource(`${server.url}/api/3/people/1/credentials/nope?ack_token=${ACK_TOKEN}`),
    );
    await attempt('foreign', () =>
      client.getResource(`http://127.0.0.2:1/api/3/people/1?ack_token=${ACK_TOKEN}`),
    );
    // A network failure on a URL with the ack token.
    const deadBase = `http://127.0.0.1:${await freePort()}`;
    const dead = build(loadConfig({ ...env, DOORFLOW_BASE_URL: deadBase }));
    await attempt('network', () =>
      dead.getResource(`${deadBase}/api/3/people/1/credentials/x?ack_token=${ACK_TOKEN}`),
    );
    // A refused refresh (the configured refresh token was rotated away above).
    const refused = build(loadConfig({ ...env, DOORFLOW_BASE_URL: server.url }));
    await attempt('refused refresh', () => refused.listPeople());

    const rotatedAccess = server.requests.filter((r) => r.status === 200).at(-1)?.token;
    const secrets = [
      env.DOORFLOW_ACCESS_TOKEN,
      env.DOORFLOW_REFRESH_TOKEN,
      env.DOORFLOW_CLIENT_SECRET,
      rotatedAccess,
      server.currentRefreshToken(),
      INVITATION_CODE,
      ACK_TOKEN,
    ];
    // The scenario really happened: a refresh, the code was returned, every failure was seen.
    expect(server.tokenRequests.map((t) => t.ok)).toEqual([true, false]);
    expect(rotatedAccess).toMatch(/^acc-1-/);
    expect(server.credentials[0]?.invitation_code).toBe(INVITATION_CODE);
    expect(errors.map((e) => (e as { code: string }).code)).toEqual([
      'server_error',
      'validation_failed',
      'not_found',
      'foreign_resource_url',
      'network_error',
      'auth_paused', // a refused refresh pauses the fleet (issue 13 §2) instead of failing as unauthorized
    ]);
    expect(clientLog.text()).toContain('"route":"/api/3/people"');
    expect(appLog.text()).toContain('[REDACTED]');

    const serialisations = errors.flatMap((err) => [
      JSON.stringify(err),
      inspect(err, { depth: 10 }),
      String(err),
      (err as Error).stack ?? '',
      JSON.stringify(pino.stdSerializers.err(err as Error)),
    ]);
    const outputs = { clientLog: clientLog.text(), appLog: appLog.text(), errors: serialisations.join('\n') };
    for (const secret of secrets) {
      expect(secret).toBeTruthy();
      for (const [where, text] of Object.entries(outputs)) {
        expect(text.includes(secret as string), `${where} contains a secret`).toBe(false);
      }
    }
  });
});
