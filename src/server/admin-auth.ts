import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Config } from '../lib/core/config.ts';
import { ConfigError } from '../lib/core/errors.ts';
import type { Clock } from '../lib/core/clock.ts';
import { systemClock } from '../lib/core/clock.ts';
import type { AdminSessionStore } from '../lib/store/admin-sessions.ts';

/**
 * Authentication for everything under `/admin`.
 * - `ADMIN_AUTH=token`: `Authorization: Bearer <ADMIN_TOKEN>`, or the login form at `/login`
 *   which sets an HttpOnly, SameSite=Strict session cookie: a random session id, recorded in Redis
 *   (so `/logout` revokes it server-side) and signed with an HMAC keyed by the token (so the token
 *   never sits in the browser and changing it logs every session out). After
 *   {@link LOGIN_FAILURE_LIMIT} failed logins from one address within a minute, `/login` answers
 *   429 for a minute.
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

/** Failed logins from one address within {@link LOGIN_WINDOW_MS} before `/login` answers 429. */
const LOGIN_FAILURE_LIMIT = 10;
const LOGIN_WINDOW_MS = 60_000;

/** Reads one cookie from the Cookie header; a malformed (undecodable) value reads as absent. */
function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The host names `serve` answers to when SERVE_ALLOWED_HOSTS is not set. */
export const LOOPBACK_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '::1'];

/** The host name of a Host header, lower-cased, without port or IPv6 brackets. */
function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::\d+)?$/.exec(header.trim().toLowerCase());
  return match ? (match[1] ?? match[2]) : undefined;
}

/**
 * Refuses requests whose Host header names a host not in `allowed` with 421 (Misdirected
 * Request): a DNS-rebinding page reaches us under the attacker's name, never under ours.
 */
export function hostGuard(allowed: readonly string[]) {
  const names = new Set(allowed.map((h) => h.toLowerCase().replace(/^\[|\]$/g, '')));
  return (req: Request, res: Response, next: NextFunction): void => {
    const name = hostName(req.headers.host);
    if (name !== undefined && names.has(name)) {
      next();
      return;
    }
    res.status(421).set('Cache-Control', 'no-store').json({ error: 'misdirected_request' });
  };
}

/** Counts failed logins per address in a sliding minute (in memory: one `serve` process). */
class LoginThrottle {
  readonly #failures = new Map<string, number[]>();
  readonly #blockedUntil = new Map<string, number>();
  constructor(private readonly clock: Clock) {}

  blocked(address: string): boolean {
    const until = this.#blockedUntil.get(address);
    if (until === undefined) return false;
    if (this.clock.now() < until) return true;
    this.#blockedUntil.delete(address);
    return false;
  }

  fail(address: string): void {
    const now = this.clock.now();
    const recent = (this.#failures.get(address) ?? []).filter((t) => now - t < LOGIN_WINDOW_MS);
    recent.push(now);
    if (recent.length >= LOGIN_FAILURE_LIMIT) {
      this.#blockedUntil.set(address, now + LOGIN_WINDOW_MS);
      this.#failures.delete(address);
    } else {
      this.#failures.set(address, recent);
    }
  }
}

/** Who the request was authenticated as, kept on `res.locals.admin`. */
export interface AdminPrincipal {
  via: 'bearer' | 'cookie' | 'basic' | 'open';
  /** Per-session CSRF token for forms; undefined when the credential is not browser-attached. */
  csrf: string | undefined;
  /**
   * Who acts, for the audit log: `admin session 3f9c0a1b2c4d (cookie)` (a digest of the session
   * id, never the id or its cookie), `admin alice (basic)`, `admin (bearer token)`.
   */
  operator: string;
}

/** A name for a browser session that identifies it in the audit log without giving it away. */
function sessionLabel(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 12);
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
  options: { sessions: AdminSessionStore; clock?: Clock; secureCookie?: boolean },
): AdminAuth {
  const clock = options.clock ?? systemClock;
  const { sessions } = options;
  const token = admin.token ?? '';
  const basicKey = `${admin.user ?? ''}:${admin.password ?? ''}`;
  // Random per start: a forged form cannot know it, even for the open (--insecure-local) mode.
  const openCsrf = randomBytes(32).toString('base64url');
  const throttle = new LoginThrottle(clock);

  const sessionValue = (id: string) => `${id}.${hmac(token, `s:${id}`)}`;
  /** The session id of a well-signed cookie value, else undefined. */
  const sessionId = (value: string | undefined): string | undefined => {
    if (!value || access.mode !== 'token') return undefined;
    const [id, mac, extra] = value.split('.');
    if (!id || !mac || extra !== undefined) return undefined;
    return safeEqual(mac, hmac(token, `s:${id}`)) ? id : undefined;
  };
  const verifySession = async (value: string | undefined): Promise<string | undefined> => {
    const id = sessionId(value);
    if (!id || !(await sessions.isLive(id))) return undefined;
    return hmac(token, `csrf:${id}`);
  };

  const authenticate = async (req: Request): Promise<AdminPrincipal | undefined> => {
    if (access.mode === 'open') return { via: 'open', csrf: openCsrf, operator: 'admin (--insecure-local)' };
    const header = req.headers.authorization ?? '';
    if (access.mode === 'token') {
      if (/^Bearer /i.test(header)) {
        return safeEqual(header.slice(7).trim(), token)
          ? { via: 'bearer', csrf: undefined, operator: 'admin (bearer token)' }
          : undefined;
      }
      const value = readCookie(req, SESSION_COOKIE);
      const csrf = await verifySession(value);
      const id = sessionId(value);
      return csrf && id
        ? { via: 'cookie', csrf, operator: `admin session ${sessionLabel(id)} (cookie)` }
        : undefined;
    }
    if (!/^Basic /i.test(header)) return undefined;
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    // Compare user and password together: one constant-time check, no early exit on the user.
    return safeEqual(decoded, basicKey)
      ? { via: 'basic', csrf: hmac(basicKey, 'csrf'), operator: `admin ${admin.user ?? ''} (basic)` }
      : undefined;
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
      authenticate(req).then((principal) => {
        if (!principal) return deny(req, res, 401, 'authentication required');
        if (UNSAFE.has(req.method) && principal.via !== 'bearer' && crossSite(req)) {
          return deny(req, res, 403, 'cross-site request refused');
        }
        res.locals.admin = principal;
        next();
      }, next);
    },
    loginRouter() {
      const router = express.Router();
      if (access.mode !== 'token') return router;
      const form = express.urlencoded({ extended: false, limit: '4kb' });
      router.get('/login', (_req, res) => {
        res.set('Cache-Control', 'no-store').type('html').send(loginPage());
      });
      router.post('/login', form, async (req, res) => {
        const address = req.socket.remoteAddress ?? 'unknown';
        if (throttle.blocked(address)) {
          res
            .status(429)
            .set('Retry-After', String(LOGIN_WINDOW_MS / 1000))
            .type('html');
          res.send(loginPage('Too many failed sign-ins; try again in a minute.'));
          return;
        }
        const body = (req.body ?? {}) as Record<string, unknown>;
        const next =
          typeof body.next === 'string' && /^\/admin(\/|$)/.test(body.next) ? body.next : '/admin/runs';
        if (crossSite(req) || typeof body.token !== 'string' || !safeEqual(body.token, token)) {
          throttle.fail(address);
          res.status(401).type('html').send(loginPage('Wrong token.', next));
          return;
        }
        const id = randomBytes(24).toString('base64url');
        await sessions.open(id, SESSION_TTL_MS);
        res.cookie(SESSION_COOKIE, sessionValue(id), {
          httpOnly: true,
          sameSite: 'strict',
          secure: options.secureCookie ?? false,
          path: '/',
          maxAge: SESSION_TTL_MS,
        });
        res.redirect(303, next);
      });
      router.post('/logout', async (req, res) => {
        if (crossSite(req)) {
          res.status(403).json({ error: 'forbidden', message: 'cross-site request refused' });
          return;
        }
        const id = sessionId(readCookie(req, SESSION_COOKIE));
        if (id) await sessions.revoke(id);
        res.clearCookie(SESSION_COOKIE, { path: '/', secure: options.secureCookie ?? false });
        res.redirect(303, '/login');
      });
      return router;
    },
  };
}
