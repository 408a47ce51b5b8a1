import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Person } from '../lib/doorflow/types.ts';
import { type Logger, silentLogger } from '../lib/core/logger.ts';
import { accountRoutes } from './account.ts';
import { adminRoutes, credentialsView, peopleView, type SimCredentialView } from './admin.ts';
import type { SimContext } from './context.ts';
import { credentialRoutes } from './credentials.ts';
import { FaultEngine } from './faults.ts';
import type { AcceptResult } from './lifecycle.ts';
import { Lifecycle } from './lifecycle.ts';
import { oauthRoutes } from './oauth.ts';
import { InvitationOutbox, type OutboxMail } from './outbox.ts';
import {
  mergeOptions,
  type ResolvedSimulatorOptions,
  resolveOptions,
  type SimulatorOptionsInput,
  type SimulatorPatch,
  simulatorPatchSchema,
} from './options.ts';
import { peopleRoutes } from './people.ts';
import { SeededRandom } from './prng.ts';
import { createRequestHandler } from './server.ts';
import { buildStats, RequestStats, type SimulatorStats } from './stats.ts';
import { credentialTypesFor, SimState } from './state.ts';
import { TokenStore } from './tokens.ts';
import { WebhookDispatcher } from './webhooks.ts';

export type { SimCredentialView } from './admin.ts';
export type { ResolvedSimulatorOptions, SimulatorPatch } from './options.ts';
export type { SimulatorStats } from './stats.ts';

/** Options of {@link startSimulator}: the JSON-able options (validated) plus an optional logger. */
/**
 * `now`: the simulator's clock (default `Date.now`). A test that moves the provisioner's clock
 * (the soak moves it a day a night) moves DoorFlow's with it, or every invitation's
 * `invitation_expires_at` would lie days behind the lifecycle clock and expire on issue.
 */
export type SimulatorOptions = SimulatorOptionsInput & { logger?: Logger; now?: () => number };

/** A simulator listening on a real port. */
export interface RunningSimulator {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** The first static bearer token (default `sim-token`). */
  readonly accessToken: string;
  /** The first OAuth client. */
  readonly oauthClient: { clientId: string; clientSecret: string };
  /** Stops listening, drops connections, cancels timers and webhooks. */
  close(): Promise<void>;
  stats(): SimulatorStats;
  /** Forgets all people, credentials, tokens, counters and pending webhooks (options stay). */
  reset(): void;
  /** Live reconfiguration (validated; throws a ZodError). Nested objects merge one level down. */
  configure(partial: SimulatorPatch): ResolvedSimulatorOptions;
  options(): ResolvedSimulatorOptions;
  /** The holder accepts the invitation in the app: invited → provisioning → active. */
  acceptInvitation(code: string): AcceptResult;
  /** Expires pending invitations (all, or the listed hashids/aliases); returns how many. */
  expireInvitations(credentialIds?: readonly string[]): number;
  /** While on, accepted credentials stay in `provisioning`. */
  stallProvisioning(on: boolean): void;
  /** DoorFlow's own invitation emails so far (one per HID credential of a person with an email). */
  outbox(): OutboxMail[];
  /** Every OAuth access token expires now (static tokens excepted); returns how many. */
  expireAccessTokens(): number;
  /** An authorization code for the `authorization_code` grant, as if a user consented. */
  issueAuthorizationCode(input?: { clientId?: string; scopes?: string[]; redirectUri?: string }): string;
  /** Resolves when no webhook is queued or being retried. */
  webhooksIdle(): Promise<void>;
  /** Every person (deleted ones flagged). */
  people(): (Person & { deleted: boolean })[];
  /** Every credential with its secrets (invitation code, alias). */
  credentials(): SimCredentialView[];
}

/** Starts a DoorFlow simulator. Validates options (throws a ZodError naming bad fields). */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const { logger: givenLogger, now: givenNow, ...raw } = options;
  const logger = givenLogger ?? silentLogger();
  let current = resolveOptions(raw);
  let random = new SeededRandom(current.seed);
  let seq = 0;
  let baseUrl = '';
  const now = givenNow ?? (() => Date.now());
  const state = new SimState(() => random);
  const tokens = new TokenStore(() => current, now);
  const faults = new FaultEngine(
    () => current.faults,
    () => random,
  );
  const requests = new RequestStats();
  const webhooks = new WebhookDispatcher({
    options: () => current.webhook,
    random: () => random,
    accountId: () => current.accountId,
    resourceUrl: (personId, credentialId, ackToken) =>
      `${current.publicUrl ?? baseUrl}/api/3/people/${personId}/credentials/${credentialId}?ack_token=${ackToken}`,
    logger,
  });
  const lifecycle = new Lifecycle({
    state,
    options: () => current,
    now,
    onChange: (c) => webhooks.enqueue(c),
  });

  const outbox = new InvitationOutbox();
  const ctx: SimContext = {
    state,
    tokens,
    lifecycle,
    webhooks,
    faults,
    outbox,
    logger,
    options: () => current,
    configure(patch) {
      current = mergeOptions(current, simulatorPatchSchema.parse(patch));
      if (current.seed !== random.seed) random = new SeededRandom(current.seed);
      logger.info({ faults: current.faults }, 'simulator reconfigured');
      return current;
    },
    random: () => random,
    now,
    baseUrl: () => current.publicUrl ?? baseUrl,
    credentialTypes: () =>
      credentialTypesFor(current.hidCredentialTypeId, current.hidTypeLabel, current.extraCredentialTypes),
    reset() {
      lifecycle.clear();
      webhooks.reset();
      state.reset();
      outbox.reset();
      tokens.reset();
      faults.reset();
      requests.reset();
      seq = 0;
    },
    stats: () =>
      buildStats({
        state,
        requests,
        faults: faults.counters,
        webhooks: webhooks.snapshot(),
        refreshTokenReuse: tokens.refreshReuseCount,
      }),
  };

  const routes = [
    ...oauthRoutes(),
    ...accountRoutes(),
    ...peopleRoutes(),
    ...credentialRoutes(),
    ...adminRoutes(),
  ];
  const server = createServer(
    { keepAliveTimeout: 10_000 },
    createRequestHandler({ ctx, routes, requests, nextSeq: () => ++seq }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(current.port, current.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = current.host.includes(':') ? `[${current.host}]` : current.host;
  baseUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  logger.info({ url: baseUrl, admin: current.admin }, 'DoorFlow simulator listening');

  let closing: Promise<void> | undefined;
  const firstClient = current.oauthClients[0];
  return {
    url: baseUrl,
    port,
    accessToken: current.accessTokens[0]?.token ?? '',
    oauthClient: { clientId: firstClient?.clientId ?? '', clientSecret: firstClient?.clientSecret ?? '' },
    close() {
      closing ??= new Promise<void>((resolve) => {
        lifecycle.clear();
        webhooks.reset();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
    stats: ctx.stats,
    reset: ctx.reset,
    configure: ctx.configure,
    options: () => current,
    acceptInvitation: (code) => lifecycle.accept(code),
    expireInvitations: (ids) => lifecycle.expireInvitations(ids),
    stallProvisioning: (on) => lifecycle.stallProvisioning(on),
    expireAccessTokens: () => tokens.expireAccessTokens(),
    issueAuthorizationCode(input = {}) {
      const client = tokens.client(input.clientId ?? firstClient?.clientId);
      if (!client) throw new Error(`unknown OAuth client ${input.clientId ?? ''}`);
      return tokens.issueCode({
        clientId: client.clientId,
        scopes: input.scopes ?? client.scopes,
        redirectUri: input.redirectUri,
      });
    },
    webhooksIdle: () => webhooks.idle(),
    people: () => peopleView(ctx),
    credentials: () => credentialsView(ctx),
    outbox: () => [...outbox.mails],
  };
}
