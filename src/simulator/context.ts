import type { CredentialType } from '../lib/doorflow/types.ts';
import type { Logger } from '../lib/core/logger.ts';
import type { FaultEngine } from './faults.ts';
import type { SimRequest, SimResponse } from './http-util.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { InvitationOutbox } from './outbox.ts';
import type { ResolvedSimulatorOptions, SimulatorPatch } from './options.ts';
import type { SeededRandom } from './prng.ts';
import type { SimulatorStats } from './stats.ts';
import type { SimState } from './state.ts';
import type { TokenStore } from './tokens.ts';
import type { WebhookDispatcher } from './webhooks.ts';

/** Everything a route handler may use. Built once per simulator in index.ts. */
export interface SimContext {
  state: SimState;
  tokens: TokenStore;
  lifecycle: Lifecycle;
  webhooks: WebhookDispatcher;
  faults: FaultEngine;
  /** DoorFlow's own invitation emails (outbox.ts). */
  outbox: InvitationOutbox;
  logger: Logger;
  options(): ResolvedSimulatorOptions;
  /** Validates and applies a live patch; throws a ZodError on bad input. */
  configure(patch: SimulatorPatch): ResolvedSimulatorOptions;
  random(): SeededRandom;
  now(): number;
  /** The base URL clients use (for webhook `resource` links). */
  baseUrl(): string;
  credentialTypes(): CredentialType[];
  reset(): void;
  stats(): SimulatorStats;
}

/** Who may call a route: `api` needs a bearer token with one of `scopes`; the others do not. */
export type RouteArea = 'api' | 'oauth' | 'admin';

export interface Route {
  method: string;
  /** Stats key, e.g. `GET /api/3/people/:personId`. */
  key: string;
  pattern: RegExp;
  area: RouteArea;
  /** Any one of these scopes grants access (api routes). */
  scopes: string[];
  handle(req: SimRequest, ctx: SimContext): SimResponse | Promise<SimResponse>;
}

/** `route('GET', '/api/3/people/:personId', …)`: `:name` matches one path segment. */
export function route(
  method: string,
  path: string,
  handle: Route['handle'],
  options: { area?: RouteArea; scopes?: string[] } = {},
): Route {
  const source = path
    .split('/')
    .map((seg) =>
      seg.startsWith(':') ? `(?<${seg.slice(1)}>[^/]+)` : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return {
    method,
    key: `${method} ${path}`,
    pattern: new RegExp(`^${source}/?$`),
    area: options.area ?? 'api',
    scopes: options.scopes ?? [],
    handle,
  };
}

export const READ_PEOPLE = ['account.person', 'account.person.readonly'];
export const WRITE_PEOPLE = ['account.person'];
export const READ_TYPES = ['account.credential_type.readonly'];
