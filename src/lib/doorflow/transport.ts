import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { got, type Got } from 'got';
import { backoffDelayMs } from '../core/backoff.ts';
import type { Config } from '../core/config.ts';
import type { DoorFlowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { authPausedError } from './auth-pause.ts';
import type { TokenManager } from './auth.ts';
import type { RequestBudget } from './budget.ts';
import {
  abortedError,
  type CallSite,
  errorFromRequestError,
  errorFromResponse,
  type FailedResponse,
} from './http-errors.ts';
import type { Metrics } from '../core/metrics.ts';

/**
 * One request through the whole stack: token → budget (in-flight cap + fleet rate) → got →
 * error mapping → at most one token renewal after a 401 → brief retries for GETs only. Every
 * attempt, including retries and the renewal, spends budget. POST/PUT/DELETE are never retried
 * here (a time-out after a server-side create would duplicate it): BullMQ retries the job, whose
 * processor looks up first.
 */

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RequestSpec {
  method: Method;
  /** Relative to the base URL, without leading slash: `api/3/people`. */
  path: string;
  searchParams?: Record<string, string | number> | URLSearchParams;
  json?: unknown;
  signal?: AbortSignal | undefined;
  /** Non-2xx statuses the caller handles itself (409 on credential create). */
  accept?: readonly number[];
}

export interface RawResponse extends FailedResponse {
  site: CallSite;
}

/** Attempts for a GET (1 + 2 brief retries); writes get exactly one. */
const GET_ATTEMPTS = 3;
/** A GET is retried inline only when the server asks for at most this long a wait. */
const MAX_INLINE_RETRY_AFTER_MS = 10_000;
/** Fleet pause after a 429 that says nothing about how long to wait. */
const DEFAULT_429_PAUSE_MS = 1_000;
/** A bogus Retry-After (a date years ahead) must not freeze the fleet: pauses are capped. */
const MAX_429_PAUSE_MS = 10 * 60_000;
const GET_BACKOFF = { baseMs: 250, maxMs: 2_000, jitter: 0.5 };

/** The one got instance: base URL, per-phase time-outs, no got-level retries, no redirects. */
export function createHttp(config: Config['doorflow']): { http: Got; close(): void } {
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: config.maxInFlight + 2 });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: config.maxInFlight + 2 });
  const connectMs = Math.min(config.timeoutMs, 10_000);
  const http = got.extend({
    prefixUrl: config.baseUrl,
    timeout: {
      lookup: connectMs,
      connect: connectMs,
      secureConnect: connectMs,
      send: config.timeoutMs,
      response: config.timeoutMs,
      request: config.timeoutMs,
    },
    // Our own loop retries GETs so that every attempt goes through the budget.
    retry: { limit: 0 },
    throwHttpErrors: false,
    // A redirect could carry our bearer token to another host.
    followRedirect: false,
    responseType: 'text',
    agent: { http: httpAgent, https: httpsAgent },
    headers: { accept: 'application/json', 'user-agent': 'doorflow-provisioner' },
  });
  return {
    http,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** Parses a body as JSON when it looks like JSON; keeps the text otherwise (202 text/plain). */
export function parseBody(text: string, contentType: string | undefined): unknown {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  if (contentType?.includes('json') || trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return text;
    }
  }
  return text;
}

export interface TransportDeps {
  http: Got;
  tokens: TokenManager;
  budget: RequestBudget;
  logger: Logger;
  /** Counts every HTTP attempt by route template and status (`'error'` for network failures). */
  metrics?: Pick<Metrics, 'doorflowRequest'>;
}

export type Send = (spec: RequestSpec) => Promise<RawResponse>;

export function createSend(deps: TransportDeps): Send {
  const { http, tokens, budget, logger, metrics } = deps;

  async function waitBeforeRetry(attempt: number, error: DoorFlowError, signal?: AbortSignal) {
    // After a 429 the fleet-wide pause already makes the next attempt wait.
    const ms = error.status === 429 ? 0 : backoffDelayMs(attempt, GET_BACKOFF, error.retryAfterMs);
    if (ms <= 0) return;
    try {
      await sleep(ms, undefined, signal ? { signal } : undefined);
    } catch (err) {
      throw abortedError(signal, err);
    }
  }

  return async function send(spec: RequestSpec): Promise<RawResponse> {
    const site: CallSite = { method: spec.method, route: `/${spec.path}` };
    const maxAttempts = spec.method === 'GET' ? GET_ATTEMPTS : 1;
    const { signal } = spec;
    let renewedFrom: string | undefined;
    for (let attempt = 1; ; ) {
      if (signal?.aborted) throw abortedError(signal);
      // Read on every attempt: after a renewal (ours or another process's) this is the new token.
      const token = await tokens.accessToken(signal);
      const started = performance.now();
      let response: RawResponse;
      try {
        const res = await budget.run(async (grant) => {
          try {
            const r = await http(spec.path, {
              method: spec.method,
              ...(spec.searchParams ? { searchParams: spec.searchParams } : {}),
              ...(spec.json === undefined ? {} : { json: spec.json }),
              headers: { authorization: `Bearer ${token}` },
              ...(signal ? { signal } : {}),
            });
            budget.settle(grant, r.timings.upload ?? r.timings.response);
            return r;
          } catch (err) {
            budget.settle(grant, (err as { timings?: { upload?: number } }).timings?.upload);
            throw err;
          }
        }, signal);
        response = {
          site,
          status: res.statusCode,
          headers: res.headers,
          body: parseBody(res.body, res.headers['content-type']),
        };
      } catch (err) {
        if (signal?.aborted) throw abortedError(signal, err);
        const error = errorFromRequestError(site, err);
        metrics?.doorflowRequest(site.route, error.status ?? 'error', performance.now() - started);
        logger.debug(
          { ...site, attempt, code: error.code, ms: Math.round(performance.now() - started) },
          'DoorFlow request failed',
        );
        if (attempt < maxAttempts && error.retryable) {
          await waitBeforeRetry(attempt, error, signal);
          attempt++;
          continue;
        }
        throw error;
      }
      const ms = Math.round(performance.now() - started);
      metrics?.doorflowRequest(site.route, response.status, ms);
      logger.debug({ ...site, attempt, status: response.status, ms }, 'DoorFlow request');
      if (response.status === 401 && renewedFrom === undefined && tokens.canRefresh) {
        // Refresh once (fleet-wide single flight) and repeat the call; a 401 means it was not done.
        renewedFrom = token;
        await tokens.renewAfterUnauthorized(token, signal);
        continue;
      }
      if (response.status === 401 && renewedFrom !== undefined && tokens.canRefresh) {
        // Refused right after a successful refresh: the grant is gone. Pause the fleet, not this job.
        throw authPausedError(await tokens.pauseAfterRejected());
      }
      if ((response.status >= 200 && response.status < 300) || spec.accept?.includes(response.status)) {
        return response;
      }
      const error = errorFromResponse(site, response);
      if (response.status === 429) {
        await budget.pause(Math.min(error.retryAfterMs ?? DEFAULT_429_PAUSE_MS, MAX_429_PAUSE_MS));
      }
      if (
        attempt < maxAttempts &&
        error.retryable &&
        (error.retryAfterMs ?? 0) <= MAX_INLINE_RETRY_AFTER_MS
      ) {
        await waitBeforeRetry(attempt, error, signal);
        attempt++;
        continue;
      }
      throw error;
    }
  };
}
