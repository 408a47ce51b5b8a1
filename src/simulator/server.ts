import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Route, SimContext } from './context.ts';
import {
  apiError,
  BodyError,
  parseBody,
  readBody,
  type SimRequest,
  type SimResponse,
  writeResponse,
} from './http-util.ts';
import type { RequestStats } from './stats.ts';

/**
 * The request pipeline. For /api/3 requests, in order: sequence number and arrival count, rate
 * limit (429), bearer check (401/403), latency, random 500, the route handler (which may decide
 * on HID Origo failures and lost responses).
 */

const UNMATCHED = 'unmatched';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });
}

function findRoute(routes: Route[], method: string, path: string, admin: boolean) {
  for (const r of routes) {
    if (r.method !== method || (r.area === 'admin' && !admin)) continue;
    const m = r.pattern.exec(path);
    if (m) return { route: r, params: { ...(m.groups ?? {}) } };
  }
  return undefined;
}

export function createRequestHandler(deps: {
  ctx: SimContext;
  routes: Route[];
  requests: RequestStats;
  nextSeq: () => number;
}): (req: IncomingMessage, res: ServerResponse) => void {
  const { ctx, routes, requests } = deps;

  async function pipeline(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const path = url.pathname;
    const isApi = path === '/api/3' || path.startsWith('/api/3/');
    const now = ctx.now();
    const seq = isApi ? deps.nextSeq() : 0;
    if (isApi) requests.arrival(now, method);
    const found = findRoute(routes, method, path, ctx.options().admin);
    const key = found?.route.key ?? (isApi ? `${method} ${UNMATCHED}` : undefined);
    const recorded = found?.route.area !== 'admin';
    const finish = (out: SimResponse) => {
      if (out.lose) {
        if (key && recorded) requests.record(key, 'lost');
        req.socket.destroy();
        return;
      }
      if (key && recorded) requests.record(key, out.status);
      writeResponse(res, out);
    };

    let raw: string;
    let body: unknown;
    try {
      raw = await readBody(req);
      body = parseBody(req.headers['content-type'], raw);
    } catch (err) {
      if (err instanceof BodyError) return finish(apiError(400, 'bad_request', err.message));
      throw err;
    }

    if (isApi) {
      const limit = ctx.faults.rateLimit(now);
      if (limit.limited) {
        return finish({
          status: 429,
          body: {
            error: 'rate_limited',
            description: `Rate limit exceeded, retry in ${limit.retryInSec} seconds`,
            retry_in: limit.retryInSec,
          },
          headers: { 'Retry-After': String(limit.retryInSec) },
        });
      }
      const auth = ctx.tokens.authenticate(req.headers.authorization);
      if (!auth.ok) {
        const why = {
          missing: 'No bearer token given',
          invalid: 'The access token is invalid',
          expired: 'The access token expired',
        };
        return finish({
          ...apiError(401, 'unauthorized', why[auth.reason]),
          headers: { 'WWW-Authenticate': `Bearer realm="DoorFlow", error="invalid_token"` },
        });
      }
      if (
        found &&
        found.route.scopes.length > 0 &&
        !found.route.scopes.some((s) => auth.grant.scopes.includes(s))
      ) {
        return finish(
          apiError(403, 'forbidden', `This action needs one of the scopes: ${found.route.scopes.join(', ')}`),
        );
      }
      const delay = ctx.faults.delayMs(seq);
      if (delay > 0) await sleep(delay);
      if (ctx.faults.serverError(seq)) {
        return finish(apiError(500, 'internal_server_error', 'Something went wrong on our side'));
      }
    }

    if (!found) return finish(apiError(404, 'not_found', `No route for ${method} ${path}`));
    const simReq: SimRequest = {
      method,
      path,
      query: url.searchParams,
      headers: req.headers,
      rawBody: raw,
      body,
      seq,
      params: found.params,
    };
    finish(await found.route.handle(simReq, ctx));
  }

  return (req, res) => {
    pipeline(req, res).catch((err: unknown) => {
      ctx.logger.error({ err }, 'simulator handler failed');
      if (!res.headersSent && !res.destroyed) {
        writeResponse(res, apiError(500, 'internal_server_error', 'simulator error'));
      }
    });
  };
}
