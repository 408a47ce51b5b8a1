import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Config } from '../lib/core/config.ts';
import { ConfigError } from '../lib/core/errors.ts';
import type { Clock } from '../lib/core/clock.ts';
import { systemClock } from '../lib/core/clock.ts';

/**
 * Authentication for everything under `/admin`.
 * - `ADMIN_AUTH=token`: `Authorization: Bearer <ADMIN_TOKEN>`, or the login form at `/login`
 *   which sets an HttpOnly, SameSite=Strict session cookie (an HMAC keyed by the token, so the
 *   token itself never sits in the browser and changing it logs every session out).
 * - `ADMIN_AUTH=basic`: `Authorization: Basic` with ADMIN_USER / ADMIN_PASSWORD.
 * Every comparison hashes both sides to equal length and uses `crypto.timingSafeEqual`.
 * State-changing requests must not come from another site: browser-attached credentials (cookie,
 * Basic) additionally need the per-session CSRF token ({@link AdminAuth.csrfToken}).
 */

/** How admin requests are authenticated; `open` only with --insecure-local (bound to 127.0.0.1). */
export type AdminMode = 'token' | 'basic' | 'open';

export interface AdminAccess {
  mode: AdminMode;
  /** The address to bind: 127.0.0.1 when --insecure-local, else `config.admin.host`. */
  host: string;
}

/**
 * Decides the admin mode at start-up. Throws a {@link ConfigError} when no credentials are
 * configured, unless `insecureLocal`, which also forces binding to 127.0.0.1.
 */
export function resolveAdminAccess(
  admin: Config['admin'],
  options: { insecureLocal?: boolean } = {},
): AdminAccess {
  const host = options.insecureLocal ? '127.0.0.1' : admin.host;
  if (admin.auth === 'basic') {
    if (admin.user && admin.password) return { mode: 'basic', host };
  } else if (admin.token) {
    return { mode: 'token', host };
  }
  if (options.insecureLocal) return { mode: 'open', host };
  const hint = 'required to serve /admin (or pass --insecure-local to bind to 127.0.0.1 without auth)';
  const problems =
    admin.auth === 'basic'
      ? [
          ...(admin.user ? [] : [{ variable: 'ADMIN_USER', expected: `${hint} with ADMIN_AUTH=basic` }]),
          ...(admin.password
            ? []
            : [{ variable: 'ADMIN_PASSWORD', expected: `${hint} with ADMIN_AUTH=basic` }]),
        ]
      : [{ variable: 'ADMIN_TOKEN', expected: hint }];
  throw new ConfigError(problems);
}

/** Constant-time string equality: both sides are hashed to 32 bytes first, so lengths never leak. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

const SESSION_COOKIE = 'dfp_admin';
const SESSION_TTL_MS = 12 * 3_600_000;

/** Reads one cookie from the Cookie header. */
function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/** Who the request was authenticated as, kept on `res.locals.admin`. */
export interface AdminPrincipal {
  via: 'bearer' | 'cookie' | 'basic' | 'open';
  /** Per-session CSRF token for forms; undefined when the credential is not browser-attached. */
  csrf: string | undefined;
}

export interface AdminAuth {
  readonly mode: AdminMode;
  /** Guards a router: 401 unless authenticated; unsafe methods also need same-origin + CSRF. */
  middleware(req: Request, res: Response, next: NextFunction): void;
  /** `GET/POST /login`, `POST /logout` (token mode only; no-ops otherwise). */
  loginRouter(): Router;
  /** Checks a submitted CSRF token against the request's principal. */
  checkCsrf(res: Response, submitted: unknown): boolean;
}

function hmac(key: string, text: string): string {
  return createHmac('sha256', key).update(text).digest('base64url');
}

function escapeAttr(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The login page (also the body of a 401 for browsers in token mode). */
function loginPage(message?: string, next = '/admin/runs'): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in · doorflow-provisioner</title>
<style>body{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto}input,button{font-size:1rem;padding:.4rem;width:100%;margin:.3rem 0}</style>
</head><body><h1>doorflow-provisioner admin</h1>${message ? `<p role="alert">${escapeAttr(message)}</p>` : ''}
<form method="post" action="/login"><label>Admin token <input type="password" name="token" autocomplete="current-password" required></label>
<input type="hidden" name="next" value="${escapeAttr(next)}"><button type="submit">Sign in</button></form></body></html>`;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** True when a browser says the request came from another site. */
function crossSite(req: Request): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return true;
  const origin = req.headers.origin;
  if (!origin || origin === 'null') return origin === 'null';
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

export function createAdminAuth(
  admin: Config['admin'],
  access: AdminAccess,
  options: { clock?: Clock; secureCookie?: boolean } = {},
): AdminAuth {
  const clock = options.clock ?? systemClock;
  const token = admin.token ?? '';
  const basicKey = `${admin.user ?? ''}:${admin.password ?? ''}`;

  const sessionValue = (issuedAt: number, nonce: string) =>
    `${issuedAt}.${nonce}.${hmac(token, `s:${issuedAt}.${nonce}`)}`;
  const verifySession = (value: string | undefined): string | undefined => {
    if (!value || access.mode !== 'token') return undefined;
    const [issued, nonce, mac] = value.split('.');
    if (!issued || !nonce || !mac) return undefined;
    if (!safeEqual(mac, hmac(token, `s:${issued}.${nonce}`))) return undefined;
    const age = clock.now() - Number(issued);
    if (!(age >= 0 && age < SESSION_TTL_MS)) return undefined;
    return hmac(token, `csrf:${nonce}`);
  };

  const authenticate = (req: Request): AdminPrincipal | undefined => {
    if (access.mode === 'open') return { via: 'open', csrf: hmac('open', 'csrf') };
    const header = req.headers.authorization ?? '';
    if (access.mode === 'token') {
      if (/^Bearer /i.test(header)) {
        return safeEqual(header.slice(7).trim(), token) ? { via: 'bearer', csrf: undefined } : undefined;
      }
      const csrf = verifySession(readCookie(req, SESSION_COOKIE));
      return csrf ? { via: 'cookie', csrf } : undefined;
    }
    if (!/^Basic /i.test(header)) return undefined;
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    // Compare user and password together: one constant-time check, no early exit on the user.
    return safeEqual(decoded, basicKey) ? { via: 'basic', csrf: hmac(basicKey, 'csrf') } : undefined;
  };

  const deny = (req: Request, res: Response, status: number, message: string) => {
    if (access.mode === 'basic')
      res.set('WWW-Authenticate', 'Basic realm="doorflow-provisioner admin", charset="UTF-8"');
    res.set('Cache-Control', 'no-store');
    if (status === 401 && access.mode === 'token' && req.accepts(['json', 'html']) === 'html') {
      res.status(401).type('html').send(loginPage(undefined, req.originalUrl));
      return;
    }
    res.status(status).json({ error: status === 401 ? 'unauthorized' : 'forbidden', message });
  };

  const checkCsrf = (res: Response, submitted: unknown): boolean => {
    const principal = res.locals.admin as AdminPrincipal | undefined;
    if (!principal) return false;
    if (principal.csrf === undefined) return true; // bearer: browsers never attach it on their own
    return typeof submitted === 'string' && safeEqual(submitted, principal.csrf);
  };

  return {
    mode: access.mode,
    checkCsrf,
    middleware(req, res, next) {
      const principal = authenticate(req);
      if (!principal) return deny(req, res, 401, 'authentication required');
      if (UNSAFE.has(req.method) && principal.via !== 'bearer' && crossSite(req)) {
        return deny(req, res, 403, 'cross-site request refused');
      }
      res.locals.admin = principal;
      next();
    },
    loginRouter() {
      const router = express.Router();
      if (access.mode !== 'token') return router;
      const form = express.urlencoded({ extended: false, limit: '4kb' });
      router.get('/login', (_req, res) => {
        res.set('Cache-Control', 'no-store').type('html').send(loginPage());
      });
      router.post('/login', form, (req, res) => {
        const body = (req.body ?? {}) as Record<string, unknown>;
        const next =
          typeof body.next === 'string' && /^\/admin(\/|$)/.test(body.next) ? body.next : '/admin/runs';
        if (crossSite(req) || typeof body.token !== 'string' || !safeEqual(body.token, token)) {
          res.status(401).type('html').send(loginPage('Wrong token.', next));
          return;
        }
        const value = sessionValue(clock.now(), randomBytes(18).toString('base64url'));
        res.cookie(SESSION_COOKIE, value, {
          httpOnly: true,
          sameSite: 'strict',
          secure: options.secureCookie ?? false,
          path: '/',
          maxAge: SESSION_TTL_MS,
        });
        res.redirect(303, next);
      });
      router.post('/logout', (_req, res) => {
        res.clearCookie(SESSION_COOKIE, { path: '/' });
        res.redirect(303, '/login');
      });
      return router;
    },
  };
}
