import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import type { Logger } from '../lib/core/logger.ts';
import { isRedisUnavailable } from '../lib/core/redis-errors.ts';
import { listResponse, resourceTypes, schemas, serviceProviderConfig } from '../producers/scim/schemas.ts';
import { ScimError } from '../producers/scim/scim-error.ts';
import type { ScimUsers } from '../producers/scim/users.ts';
import type { HttpModule } from './app.ts';

/**
 * SCIM 2.0 inbound on `serve` (docs/scim.md): `/scim/v2` with the discovery documents and
 * `/Users`, behind the SCIM_TOKEN bearer token (compared in constant time). Mounted only when
 * SCIM_TOKEN is set; otherwise the paths are the app's plain 404.
 *
 * One router per tenant: {@link scimRouter} takes what a tenant needs (its token, its users) and
 * knows its own base from the request, so per-account endpoints (`/scim/v2/:account`) mount the
 * same router behind a middleware that picks the account's deps.
 */

export const SCIM_PATH = '/scim/v2';
const CONTENT_TYPE = 'application/scim+json';

export interface ScimTenant {
  token: string;
  users: ScimUsers;
  /** Where clients reach `serve` (SERVE_PUBLIC_URL), for `meta.location` behind a proxy. */
  publicUrl?: string | undefined;
}

export interface ScimModuleDeps extends ScimTenant {
  logger: Logger;
  /** Called on close (stops the burst timers). */
  onClose?: () => void;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Bearer check in constant time: both sides hashed first, so lengths never differ. */
function bearerGuard(token: string) {
  const expected = digest(token);
  return (req: Request, _res: Response, next: NextFunction) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const given = digest(match?.[1]?.trim() ?? '');
    if (!match || !timingSafeEqual(given, expected)) {
      next(new ScimError(401, 'a valid bearer token is required'));
      return;
    }
    next();
  };
}

function send(res: Response, status: number, body: unknown): void {
  res.status(status).type(CONTENT_TYPE).send(JSON.stringify(body));
}

/** Base URL of this tenant's SCIM endpoint (for `meta.location`): SERVE_PUBLIC_URL, else as reached. */
function baseOf(req: Request, publicUrl: string | undefined): string {
  const origin = publicUrl?.replace(/\/+$/, '') ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
  return `${origin}${req.baseUrl}`;
}

type Handler = (req: Request, res: Response) => Promise<void>;

function wrap(handler: Handler) {
  return (req: Request, res: Response, next: NextFunction) => {
    handler(req, res).catch(next);
  };
}

function query(req: Request, name: string): string | undefined {
  const value = req.query[name];
  return typeof value === 'string' ? value : undefined;
}

function scimRouter(tenant: ScimTenant, logger: Logger): Router {
  const router = Router({ mergeParams: true });
  const { users } = tenant;
  const base = (req: Request) => baseOf(req, tenant.publicUrl);
  router.use(bearerGuard(tenant.token));
  router.use(express.json({ type: [CONTENT_TYPE, 'application/json'], limit: '256kb' }));
  const locate = (req: Request) => (id: string) => `${base(req)}/Users/${encodeURIComponent(id)}`;

  router.get('/ServiceProviderConfig', (req, res) => send(res, 200, serviceProviderConfig(base(req))));
  router.get('/ResourceTypes', (req, res) => {
    const list = resourceTypes(base(req));
    send(res, 200, listDocument(list));
  });
  router.get('/ResourceTypes/:id', (req, res, next) => {
    const found = resourceTypes(base(req)).find((r) => r.id === req.params.id);
    if (!found) next(new ScimError(404, 'no such resource type'));
    else send(res, 200, found);
  });
  router.get('/Schemas', (req, res) => send(res, 200, listDocument(schemas(base(req)))));
  router.get('/Schemas/:id', (req, res, next) => {
    const found = schemas(base(req)).find((s) => s.id === req.params.id);
    if (!found) next(new ScimError(404, 'no such schema'));
    else send(res, 200, found);
  });

  router.get(
    '/Users',
    wrap(async (req, res) => {
      const list = await users.list(
        { filter: query(req, 'filter'), startIndex: query(req, 'startIndex'), count: query(req, 'count') },
        locate(req),
      );
      send(res, 200, list);
    }),
  );
  router.post(
    '/Users/.search',
    wrap(async (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const text = (v: unknown) => (v === undefined ? undefined : String(v));
      const list = await users.list(
        { filter: text(body.filter), startIndex: text(body.startIndex), count: text(body.count) },
        locate(req),
      );
      send(res, 200, list);
    }),
  );
  router.post(
    '/Users',
    wrap(async (req, res) => {
      const user = await users.create(req.body, locate(req));
      res.location(String((user.meta as { location: string }).location));
      send(res, 201, user);
    }),
  );
  router.get(
    '/Users/:id',
    wrap(async (req, res) => send(res, 200, await users.get(String(req.params.id), locate(req)))),
  );
  router.put(
    '/Users/:id',
    wrap(async (req, res) =>
      send(res, 200, await users.replace(String(req.params.id), req.body, locate(req))),
    ),
  );
  router.patch(
    '/Users/:id',
    wrap(async (req, res) => send(res, 200, await users.patch(String(req.params.id), req.body, locate(req)))),
  );
  router.delete(
    '/Users/:id',
    wrap(async (req, res) => {
      await users.delete(String(req.params.id));
      res.status(204).end();
    }),
  );
  // ServiceProviderConfig declares no groups and no bulk: a clear "not implemented".
  router.all(['/Groups', '/Groups/*rest', '/Bulk'], (_req, _res, next) =>
    next(
      new ScimError(
        501,
        'this service provider does not support Groups or Bulk (see /ServiceProviderConfig)',
      ),
    ),
  );
  router.use((_req, _res, next) => next(new ScimError(404, 'no such SCIM endpoint')));
  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const scim = toScimError(err);
    if (scim.status >= 500 && scim.status !== 501)
      logger.error({ err, path: req.path }, 'SCIM request failed');
    if (res.headersSent) return;
    if (scim.status === 401) res.set('WWW-Authenticate', 'Bearer realm="scim"');
    if (scim.status === 503) res.set('Retry-After', '5');
    send(res, scim.status, scim.body());
  });
  return router;
}

function listDocument(resources: Record<string, unknown>[]): Record<string, unknown> {
  return listResponse(resources, resources.length, 1);
}

/** Any failure as a SCIM error body: body-parser's 400/413, Redis away (503), else 500. */
function toScimError(err: unknown): ScimError {
  if (err instanceof ScimError) return err;
  if (isRedisUnavailable(err)) return new ScimError(503, 'temporarily unavailable, retry later');
  const status = (err as { status?: unknown }).status;
  if (status === 413) return new ScimError(413, 'the request body is too large');
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ScimError(400, 'the request body is not valid JSON', 'invalidSyntax');
  }
  return new ScimError(500, 'internal error');
}

/** The SCIM endpoint as an {@link HttpModule} for `buildServer`. */
export function scimHttpModule(deps: ScimModuleDeps): HttpModule {
  return {
    name: 'scim',
    mount(app) {
      app.use(SCIM_PATH, scimRouter(deps, deps.logger));
    },
    close() {
      deps.onClose?.();
    },
  };
}
