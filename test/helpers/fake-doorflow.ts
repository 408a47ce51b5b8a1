import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small, purpose-built DoorFlow stand-in for the client's tests (not the project's simulator):
 * real HTTP on 127.0.0.1, rotating refresh tokens, pagination headers, 409/422 shapes, and a log
 * of every request's arrival time so tests can count requests in any sliding second.
 */

export interface RequestRecord {
  method: string;
  path: string;
  query: URLSearchParams;
  /** performance.now() at arrival. */
  at: number;
  token: string | undefined;
  status: number;
}

export interface InjectedResponse {
  method?: string;
  /** Matches the path (no query). */
  path?: RegExp;
  status: number;
  headers?: Record<string, string>;
  body?: unknown | ((req: IncomingMessage) => unknown);
  /** How many requests to answer this way (default 1). */
  times?: number;
  /** Wait this long before answering (to trip client time-outs). */
  delayMs?: number;
}

export interface FakeDoorFlowOptions {
  accessTokens?: string[];
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  /** Delay before answering POST /oauth/token, to widen refresh races. */
  tokenDelayMs?: number;
  tokenLifetimeSec?: number;
  people?: number;
  hidTypeId?: number;
  typesShape?: 'array' | 'wrapped';
  invitationCode?: string;
  /** Live HID credentials allowed before 422 limit_reached. */
  licenceLimit?: number;
}

export interface FakeCredential {
  id: string;
  person_id: number;
  credential_type_id: number;
  status: string;
  label: string;
  invitation_code?: string;
  invitation_expires_at?: string;
  [field: string]: unknown;
}

export async function startFakeDoorFlow(options: FakeDoorFlowOptions = {}) {
  const hidTypeId = options.hidTypeId ?? 8;
  const validTokens = new Set(options.accessTokens ?? ['fake-token']);
  let refreshToken = options.refreshToken;
  let tokenGeneration = 0;
  const tokenRequests: { refresh_token: string | undefined; ok: boolean }[] = [];
  const requests: RequestRecord[] = [];
  const injected: InjectedResponse[] = [];
  const people: Record<string, unknown>[] = [];
  const credentials: FakeCredential[] = [];
  for (let i = 1; i <= (options.people ?? 0); i++) {
    people.push({
      id: i,
      first_name: `First${i}`,
      last_name: `Last${i}`,
      email: `p${i}@example.com`,
      system_id: `S${i}`,
    });
  }
  const types = [
    { id: 1, label: 'Card', slug: 'card', code: 'card' },
    { id: hidTypeId, label: 'HID Mobile Access', slug: 'hid_mobile', code: 'hid' },
  ];

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
    return status;
  };
  const paginate = (res: ServerResponse, list: unknown[], query: URLSearchParams, defaultPer = 50) => {
    const per = Math.min(100, Number(query.get('per_page') ?? defaultPer) || defaultPer);
    const page = Math.max(1, Number(query.get('page') ?? 1) || 1);
    const slice = list.slice((page - 1) * per, page * per);
    return json(res, 200, slice, { Total: String(list.length), 'Per-Page': String(per) });
  };
  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };

  async function handleToken(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const form = new URLSearchParams(await readBody(req));
    if (options.tokenDelayMs) await new Promise((r) => setTimeout(r, options.tokenDelayMs));
    if (form.get('client_id') !== options.clientId || form.get('client_secret') !== options.clientSecret) {
      return json(res, 401, { error: 'invalid_client', error_description: 'bad client' });
    }
    const presented = form.get('refresh_token') ?? undefined;
    const ok =
      form.get('grant_type') === 'refresh_token' && presented !== undefined && presented === refreshToken;
    tokenRequests.push({ refresh_token: presented, ok });
    if (!ok) return json(res, 400, { error: 'invalid_grant', error_description: 'refresh token is invalid' });
    tokenGeneration++;
    const access = `acc-${tokenGeneration}-${randomBytes(6).toString('hex')}`;
    refreshToken = `ref-${tokenGeneration}-${randomBytes(6).toString('hex')}`;
    validTokens.clear(); // rotation revokes the old access token too
    validTokens.add(access);
    return json(res, 200, {
      access_token: access,
      token_type: 'Bearer',
      expires_in: options.tokenLifetimeSec ?? 3600,
      refresh_token: refreshToken,
      scope: 'account.person',
      created_at: Math.floor(Date.now() / 1000),
    });
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) {
    const method = req.method ?? 'GET';
    const parts = path.split('/').filter(Boolean).slice(2); // after api/3
    const findPerson = (id: string | undefined) => people.find((p) => String(p.id) === id);
    if (parts[0] === 'credential_types') {
      return json(res, 200, options.typesShape === 'wrapped' ? { credential_types: types } : types);
    }
    if (parts[0] === 'credentials') return paginate(res, credentials, query, 500);
    if (parts[0] !== 'people') return json(res, 404, { error: 'not_found' });
    if (parts.length === 1 && method === 'GET') {
      const email = query.get('email')?.toLowerCase();
      const list = people.filter(
        (p) =>
          (!query.has('system_id') || p.system_id === query.get('system_id')) &&
          (!email || String(p.email).toLowerCase().includes(email)),
      );
      return paginate(res, list, query);
    }
    if (parts.length === 1 && method === 'POST') {
      const body = JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>;
      if (!body.first_name || !body.last_name) {
        return json(res, 422, { error: 'unprocessable_entity', errors: { first_name: ["can't be blank"] } });
      }
      const person = { ...body, id: people.length + 1 };
      people.push(person);
      return json(res, 201, person);
    }
    const person = findPerson(parts[1]);
    if (!person) return json(res, 404, { error: 'not_found', error_description: 'person not found' });
    if (parts.length === 2 && method === 'GET') return json(res, 200, person);
    if (parts.length === 2 && method === 'PUT') {
      Object.assign(person, JSON.parse((await readBody(req)) || '{}'));
      return json(res, 201, person);
    }
    const mine = credentials.filter((c) => c.person_id === person.id);
    if (parts.length === 3 && method === 'GET') return paginate(res, mine, query, 500);
    if (parts.length === 3 && method === 'POST') {
      const input = (
        JSON.parse((await readBody(req)) || '{}') as { person_credential?: { credential_type_id?: number } }
      ).person_credential;
      const typeId = Number(input?.credential_type_id);
      if (!types.some((t) => t.id === typeId)) {
        return json(res, 422, {
          error: 'unprocessable_entity',
          errors: { credential_type_id: ['is not valid'] },
        });
      }
      const existing = mine.find((c) => c.credential_type_id === typeId);
      if (existing) return json(res, 409, existing);
      const live = credentials.filter(
        (c) => c.credential_type_id === hidTypeId && c.status !== 'revoked',
      ).length;
      if (typeId === hidTypeId && options.licenceLimit !== undefined && live >= options.licenceLimit) {
        return json(res, 422, {
          error: 'unprocessable_entity',
          errors: { limit_reached: 'HID Mobile licence limit reached, contact DoorFlow Support' },
        });
      }
      const credential: FakeCredential = {
        id: `c${randomBytes(5).toString('hex')}`,
        person_id: Number(person.id),
        credential_type_id: typeId,
        status: typeId === hidTypeId ? 'invited' : 'active',
        label: typeId === hidTypeId ? 'HID Mobile Access' : 'Card',
        future_field: { nested: true },
      };
      if (typeId === hidTypeId && options.invitationCode) {
        credential.invitation_code = options.invitationCode;
        credential.invitation_expires_at = new Date(Date.now() + 7 * 86_400_000).toISOString();
      }
      credentials.push(credential);
      return json(res, 201, credential);
    }
    const credential = mine.find((c) => c.id === parts[3]);
    if (!credential) return json(res, 404, { error: 'not_found' });
    if (method === 'GET') return json(res, 200, credential);
    if (method === 'DELETE') {
      const mobile = credential.credential_type_id === hidTypeId;
      credential.status = mobile ? 'revoking' : 'revoked';
      res.writeHead(mobile ? 202 : 200, { 'content-type': 'text/plain' });
      res.end(mobile ? 'Accepted' : 'OK');
      return mobile ? 202 : 200;
    }
    return json(res, 405, { error: 'method_not_allowed' });
  }

  const server = createServer((req, res) => {
    const at = performance.now();
    const url = new URL(req.url ?? '/', 'http://fake');
    const auth = req.headers.authorization;
    const record: RequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      at,
      token: auth?.startsWith('Bearer ') ? auth.slice(7) : undefined,
      status: 0,
    };
    requests.push(record);
    const route = async (): Promise<number> => {
      if (url.pathname === '/oauth/token' && req.method === 'POST') return await handleToken(req, res);
      if (!record.token || !validTokens.has(record.token)) {
        return json(res, 401, { error: 'unauthorized', error_description: 'The access token is invalid' });
      }
      const rule = injected.find(
        (r) => (!r.method || r.method === req.method) && (!r.path || r.path.test(url.pathname)),
      );
      if (rule) {
        rule.times = (rule.times ?? 1) - 1;
        if (rule.times <= 0) injected.splice(injected.indexOf(rule), 1);
        const body =
          typeof rule.body === 'function' ? (rule.body as (r: IncomingMessage) => unknown)(req) : rule.body;
        if (rule.delayMs) await new Promise((r) => setTimeout(r, rule.delayMs));
        if (res.destroyed) return 0;
        return json(res, rule.status, body, rule.headers);
      }
      if (url.pathname === '/oauth/token/info')
        return json(res, 200, { resource_owner_id: 1, scope: ['account.person'] });
      if (url.pathname.startsWith('/api/3/'))
        return await handleApi(req, res, url.pathname, url.searchParams);
      if (url.pathname.startsWith('/elsewhere/')) return json(res, 200, { elsewhere: true });
      return json(res, 404, { error: 'not_found' });
    };
    route().then(
      (status) => {
        record.status = status;
      },
      (err: unknown) => {
        record.status = 500;
        json(res, 500, { error: 'internal_server_error', error_description: String(err) });
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    tokenRequests,
    people,
    credentials,
    currentRefreshToken: () => refreshToken,
    addAccessToken: (token: string) => validTokens.add(token),
    /** Answers the next matching request(s) with a canned response (after the bearer check). */
    inject: (rule: InjectedResponse) => injected.push(rule),
    /** Most requests that arrived within any `windowMs` (half-open, sliding) among `records`. */
    maxInAnyWindow(records: RequestRecord[] = requests, windowMs = 1000): number {
      const times = records.map((r) => r.at).sort((a, b) => a - b);
      let best = 0;
      for (let i = 0, j = 0; i < times.length; i++) {
        while (j < times.length && (times[j] as number) < (times[i] as number) + windowMs) j++;
        best = Math.max(best, j - i);
      }
      return best;
    },
    async close(): Promise<void> {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type FakeDoorFlow = Awaited<ReturnType<typeof startFakeDoorFlow>>;
