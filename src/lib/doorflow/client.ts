import type { RedisConnection } from '../core/redis.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { ConfigError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import type { RedisKeys } from '../store/keys.ts';
import type { AuthPause } from './auth-pause.ts';
import { createTokenManager, type TokenState } from './auth.ts';
import { type BudgetStats, type BudgetWaitEvent, budgetKeysOf, createBudget } from './budget.ts';
import { errorFromRequestError, errorFromResponse, invalidResponseError } from './http-errors.ts';
import { resolveResourceUrl } from './resource-url.ts';
import {
  CREDENTIALS_PER_PAGE,
  clampPerPage,
  hasMorePages,
  maxPages,
  parseCountHeader,
} from './pagination.ts';
import { createHttp, createSend, type RawResponse } from './transport.ts';
import type {
  CallOptions,
  CreateCredentialResult,
  Credential,
  CredentialInput,
  CredentialType,
  DeleteCredentialResult,
  DoorFlowApi,
  ListPeopleFilter,
  Page,
  Person,
  PersonInput,
} from './types.ts';

export interface DoorFlowClientDeps {
  config: Config['doorflow'];
  redis: RedisConnection;
  /** The fleet's keys (under `QUEUE_PREFIX`): the budget and the shared tokens live there. */
  keys: RedisKeys;
  logger: Logger;
  /** Time for token expiry decisions (the budget always uses Redis server time). */
  clock?: Clock;
  /** Called whenever a request slept for the budget (metrics). */
  onBudgetWait?: (event: BudgetWaitEvent) => void;
  /** Records requests by route and status, and budget waits (when `onBudgetWait` is not given). */
  metrics?: Pick<Metrics, 'doorflowRequest' | 'budgetWait'>;
  /** ENCRYPTION_KEY: tokens shared through Redis are stored encrypted with it. */
  encryptionKey?: Buffer | undefined;
  /** Called once per auth pause, fleet-wide, in the process that set it (alerting). */
  onAuthPause?: ((pause: AuthPause) => void) | undefined;
}

/** The DoorFlow API over HTTP, plus what the composition root and `config check` need. */
export interface DoorFlowClient extends DoorFlowApi {
  /** `HID_CREDENTIAL_TYPE_ID`, else the type whose label/slug has "hid" and "mobile", else 8. Cached. */
  resolveHidCredentialTypeId(options?: CallOptions): Promise<number>;
  /** `GET /oauth/token/info` (scopes, expiry) for connectivity checks. */
  tokenInfo(options?: CallOptions): Promise<Record<string, unknown>>;
  /** Shared token state (never log it: it holds secrets). */
  tokenState(): Promise<TokenState>;
  /** The fleet-wide auth pause, when DoorFlow access is lost (no secrets). */
  authPause(): Promise<AuthPause | undefined>;
  /** Stores a new refresh or access token (encrypted) and lifts the auth pause. */
  replaceToken(input: { refresh?: string; access?: string }): Promise<void>;
  budgetStats(): BudgetStats;
  /** Releases sockets. The Redis connection belongs to the caller. */
  close(): Promise<void>;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const isHidMobile = (t: CredentialType) => {
  const text = `${t.label ?? ''} ${t.slug ?? ''}`.toLowerCase();
  return text.includes('hid') && text.includes('mobile');
};

/**
 * Discovery when `HID_CREDENTIAL_TYPE_ID` is unset: the one type whose label or slug names both
 * "hid" and "mobile". None or several (a wallet variant, say) is a configuration error listing
 * the account's types (exit 3), not a guess.
 */
function pickHidCredentialType(types: readonly CredentialType[]): number {
  const matches = types.filter((t) => isHidMobile(t) && Number.isInteger(Number(t.id)));
  const [only] = matches;
  if (matches.length === 1 && only) return Number(only.id);
  const listed = types.map((t) => `${t.id} "${t.label ?? ''}"${t.slug ? ` (${t.slug})` : ''}`).join(', ');
  const found =
    matches.length === 0 ? 'no HID Mobile credential type' : `${matches.length} HID Mobile credential types`;
  throw new ConfigError([
    {
      variable: 'HID_CREDENTIAL_TYPE_ID',
      expected: `${found} in this DoorFlow account; set it to one of the account's types: ${listed || 'none'}`,
    },
  ]);
}

export function createDoorFlowClient(deps: DoorFlowClientDeps): DoorFlowClient {
  const { config, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const transport = createHttp(config);
  const budget = createBudget({
    redis: deps.redis,
    keys: budgetKeysOf(deps.keys),
    ratePerSec: config.rateLimitPerSec,
    maxInFlight: config.maxInFlight,
    logger,
    ...(deps.onBudgetWait
      ? { onWait: deps.onBudgetWait }
      : deps.metrics
        ? { onWait: (event: BudgetWaitEvent) => deps.metrics?.budgetWait(event.waitMs) }
        : {}),
  });
  const tokens = createTokenManager({
    config,
    secretKey: deps.encryptionKey,
    redis: deps.redis,
    keys: { tokens: deps.keys.tokens, lock: deps.keys.tokensLock, pause: deps.keys.authPause },
    onPause: deps.onAuthPause,
    logger,
    clock,
    // The token call spends budget but takes no in-flight slot (a caller may hold one while renewing).
    async postToken(form) {
      const grant = await budget.acquire();
      const res = await transport.http.post('oauth/token', { form }).catch((err: unknown) => {
        throw errorFromRequestError({ method: 'POST', route: '/oauth/token' }, err);
      });
      budget.settle(grant, res.timings.upload ?? res.timings.response);
      return { status: res.statusCode, headers: res.headers, body: parseJson(res.body) };
    },
  });
  const send = createSend({
    http: transport.http,
    tokens,
    budget,
    logger,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });
  let hidTypeId: Promise<number> | undefined;

  function parseJson(text: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }

  function object<T>(res: RawResponse, what: string): T {
    if (!isObject(res.body)) throw invalidResponseError(res.site, res.status, `expected ${what}`, res.body);
    return res.body as T;
  }

  function array<T>(res: RawResponse, what: string, wrapper?: string): T[] {
    const body = res.body;
    if (Array.isArray(body)) return body.filter(isObject) as T[];
    if (wrapper && isObject(body) && Array.isArray(body[wrapper]))
      return (body[wrapper] as unknown[]).filter(isObject) as T[];
    throw invalidResponseError(res.site, res.status, `expected a list of ${what}`, body);
  }

  async function fetchPage<T>(
    path: string,
    params: Record<string, string | number>,
    page: number,
    perPage: number,
    options: CallOptions | undefined,
    what: string,
  ): Promise<Page<T>> {
    const res = await send({
      method: 'GET',
      path,
      searchParams: { ...params, page, per_page: perPage },
      signal: options?.signal,
    });
    return {
      items: array<T>(res, what),
      total: parseCountHeader(res.headers.total),
      perPage: parseCountHeader(res.headers['per-page']),
      page,
    };
  }

  /** Walks every page; skips items already seen (offset pages shift when the list changes). */
  async function* paginate<T extends { id: unknown }>(
    path: string,
    params: Record<string, string | number>,
    options: CallOptions | undefined,
    what: string,
    perPage: number = clampPerPage(undefined),
    firstPage = 1,
  ): AsyncGenerator<T> {
    const seen = new Set<unknown>();
    for (let page = Math.max(1, Math.floor(firstPage)); ; page++) {
      const result = await fetchPage<T>(path, params, page, perPage, options, what);
      for (const item of result.items) {
        if (seen.has(item.id)) continue;
        seen.add(item.id);
        yield item;
      }
      const facts = { page, requestedPerPage: perPage, perPageHeader: result.perPage, total: result.total };
      if (!hasMorePages({ ...facts, received: result.items.length })) return;
      if (page >= maxPages(result.total, result.perPage ?? perPage)) return;
    }
  }

  const peopleParams = (filter: Omit<ListPeopleFilter, 'per_page'> = {}) => {
    const params: Record<string, string> = {};
    if (filter.system_id !== undefined) params.system_id = filter.system_id;
    if (filter.email !== undefined) params.email = filter.email;
    if (filter.since_utc !== undefined) params.since_utc = filter.since_utc;
    return params;
  };

  const credentialsPath = (personId: number) =>
    `api/3/people/${encodeURIComponent(String(personId))}/credentials`;

  async function listPersonCredentials(personId: number, options?: CallOptions): Promise<Credential[]> {
    const out: Credential[] = [];
    for await (const c of paginate<Credential>(
      credentialsPath(personId),
      {},
      options,
      'credentials',
      CREDENTIALS_PER_PAGE,
    ))
      out.push(c);
    return out;
  }

  async function listCredentialTypes(options?: CallOptions): Promise<CredentialType[]> {
    const res = await send({ method: 'GET', path: 'api/3/credential_types', signal: options?.signal });
    // The spec sends a bare array; a guide shows {"credential_types":[{id,name,format}]}.
    return array<CredentialType>(res, 'credential types', 'credential_types').map((t) => ({
      ...t,
      label: typeof t.label === 'string' ? t.label : typeof t.name === 'string' ? t.name : '',
    }));
  }

  return {
    async listPeople(filter = {}, options) {
      const perPage = clampPerPage(filter.per_page);
      const page = Math.max(1, Math.floor(filter.page ?? 1));
      return await fetchPage<Person>('api/3/people', peopleParams(filter), page, perPage, options, 'people');
    },
    iteratePeople(filter, options) {
      return paginate<Person>(
        'api/3/people',
        peopleParams(filter),
        options,
        'people',
        clampPerPage(undefined),
        filter?.page,
      );
    },
    async getPerson(personId, options) {
      const res = await send({ method: 'GET', path: `api/3/people/${personId}`, signal: options?.signal });
      return object<Person>(res, 'a person');
    },
    async createPerson(input: PersonInput, options) {
      const res = await send({ method: 'POST', path: 'api/3/people', json: input, signal: options?.signal });
      return object<Person>(res, 'the created person');
    },
    async updatePerson(personId, input, options) {
      const res = await send({
        method: 'PUT',
        path: `api/3/people/${personId}`,
        json: input,
        signal: options?.signal,
      });
      // The spec answers 201 with the person; tolerate an empty 2xx by reading it back.
      if (isObject(res.body) && 'id' in res.body) return res.body as Person;
      const again = await send({ method: 'GET', path: `api/3/people/${personId}`, signal: options?.signal });
      return object<Person>(again, 'a person');
    },
    listPersonCredentials,
    iterateCredentials(options) {
      return paginate<Credential>('api/3/credentials', {}, options, 'credentials', CREDENTIALS_PER_PAGE);
    },
    async createCredential(personId, input: CredentialInput, options): Promise<CreateCredentialResult> {
      const res = await send({
        method: 'POST',
        path: credentialsPath(personId),
        json: { person_credential: input },
        accept: [409],
        signal: options?.signal,
      });
      if (res.status !== 409)
        return { credential: object<Credential>(res, 'the created credential'), created: true };
      // 409: one credential per type per person; the body is the existing one.
      if (isObject(res.body) && typeof res.body.id === 'string')
        return { credential: res.body as Credential, created: false };
      const existing = (await listPersonCredentials(personId, options)).find(
        (c) => c.credential_type_id === input.credential_type_id,
      );
      if (existing) return { credential: existing, created: false };
      throw errorFromResponse(res.site, res);
    },
    async getCredential(personId, credentialId, options) {
      const res = await send({
        method: 'GET',
        path: `${credentialsPath(personId)}/${encodeURIComponent(credentialId)}`,
        ...(options?.ackToken ? { searchParams: { ack_token: options.ackToken } } : {}),
        signal: options?.signal,
      });
      return object<Credential>(res, 'a credential');
    },
    async deleteCredential(personId, credentialId, options): Promise<DeleteCredentialResult> {
      const res = await send({
        method: 'DELETE',
        path: `${credentialsPath(personId)}/${encodeURIComponent(credentialId)}`,
        signal: options?.signal,
      });
      return { status: res.status };
    },
    async deletePerson(personId, options) {
      await send({ method: 'DELETE', path: `api/3/people/${personId}`, signal: options?.signal });
    },
    listCredentialTypes,
    async getResource(url, options) {
      const target = resolveResourceUrl(config.baseUrl, url);
      const res = await send({ method: 'GET', ...target, signal: options?.signal });
      return res.body;
    },
    async resolveHidCredentialTypeId(options) {
      if (config.hidCredentialTypeId !== undefined) return config.hidCredentialTypeId;
      hidTypeId ??= listCredentialTypes(options).then(
        (types) => pickHidCredentialType(types),
        (err: unknown) => {
          hidTypeId = undefined;
          throw err;
        },
      );
      return await hidTypeId;
    },
    async tokenInfo(options) {
      const res = await send({ method: 'GET', path: 'oauth/token/info', signal: options?.signal });
      return object<Record<string, unknown>>(res, 'token info');
    },
    tokenState: () => tokens.state(),
    authPause: () => tokens.pause(),
    replaceToken: (input) => tokens.replace(input),
    budgetStats: () => budget.stats(),
    async close() {
      transport.close();
    },
  };
}
