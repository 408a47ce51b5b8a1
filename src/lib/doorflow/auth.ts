import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisConnection } from '../core/redis.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { DoorFlowError } from '../core/errors.ts';
import { type Logger, secretRegistry } from '../core/logger.ts';
import {
  abortedError,
  errorFromResponse,
  type FailedResponse,
  raceAbort,
  sanitizedCause,
} from './http-errors.ts';
import { compareAndDelete, compareAndExpire } from '../core/lua.ts';
import { decryptSecret, encryptSecret } from '../core/crypto.ts';
import { type AuthPause, type AuthPauseKind, authPausedError, createAuthPause } from './auth-pause.ts';
import { fingerprint, rememberScript, seedScript } from './token-seed.ts';

/**
 * Bearer tokens, shared by every process through Redis (the `tokens` hash: access, refresh,
 * expiresAt, refreshAt, seed). DoorFlow rotates refresh tokens, so a refresh is single-flight
 * across the fleet: whoever holds the `tokens:lock` key refreshes, after re-reading the hash
 * (someone may have refreshed already, and presenting a used refresh token kills the grant);
 * everybody else waits for the hash to change and reuses the new token.
 */

/** Refresh this long before expiry (as the official SDK does), or at half-life for short tokens. */
const REFRESH_EARLY_MS = 5 * 60_000;
const LOCK_TTL_MS = 15_000;
const POLL_MS = 100;

export interface TokenState {
  access: string | undefined;
  refresh: string | undefined;
  /** Epoch ms; undefined when unknown (a configured token: we learn of expiry from a 401). */
  expiresAt: number | undefined;
  refreshAt: number | undefined;
  /** sha256 prefix of a refresh token DoorFlow refused; it is never presented again. */
  deadRefresh: string | undefined;
}

/** POSTs the form to `/oauth/token` (the client spends budget on it) and returns the response. */
export type TokenEndpoint = (form: Record<string, string>) => Promise<FailedResponse>;

/** The shared token hash, the refresh lock and the fleet-wide auth pause. */
interface TokenKeys {
  tokens: string;
  lock: string;
  pause: string;
}

export interface TokenManagerDeps {
  config: Config['doorflow'];
  redis: RedisConnection;
  keys: TokenKeys;
  logger: Logger;
  clock: Clock;
  postToken: TokenEndpoint;
  /** ENCRYPTION_KEY: when set, tokens are stored encrypted (AES-256-GCM) in the shared hash. */
  secretKey?: Buffer | undefined;
  /** Called in the one process (fleet-wide) that set the auth pause: the alert. */
  onPause?: ((pause: AuthPause) => void) | undefined;
}

export interface TokenManager {
  /** Whether a refresh token and client credentials are configured. */
  readonly canRefresh: boolean;
  /** The token for the next request; refreshes first when it is about to expire. */
  accessToken(signal?: AbortSignal): Promise<string>;
  /** After DoorFlow answered 401 to `rejected`: a newer token (refreshing once, fleet-wide). */
  renewAfterUnauthorized(rejected: string, signal?: AbortSignal): Promise<string>;
  /** The current shared token state (for `config check`). */
  state(): Promise<TokenState>;
  /** The fleet-wide auth pause, when DoorFlow access is lost. */
  pause(): Promise<AuthPause | undefined>;
  /** Pauses the fleet: DoorFlow refused a token it had just issued. */
  pauseAfterRejected(): Promise<AuthPause>;
  /** Stores a new refresh (or access) token, encrypted, and lifts the pause. */
  replace(input: { refresh?: string; access?: string }): Promise<void>;
}

/** Seeds the hash from the configuration unless it already holds tokens grown from the same seed. */

function unauthorized(message: string, upstreamCode?: string, cause?: unknown): DoorFlowError {
  return new DoorFlowError('unauthorized', message, {
    status: 401,
    upstreamCode,
    retryable: false,
    ...(cause === undefined ? {} : { cause }),
  });
}

export function createTokenManager(deps: TokenManagerDeps): TokenManager {
  const { config, redis, logger, clock } = deps;
  const key = deps.keys.tokens;
  const lockKey = deps.keys.lock;
  const pauseKey = deps.keys.pause;
  const fleetPause = createAuthPause({
    redis,
    keys: { pause: pauseKey, tokens: key },
    logger,
    clock,
    onPause: deps.onPause,
  });
  const readPause = fleetPause.read;
  const assertNotPaused = fleetPause.assertNot;
  const setPause = (kind: AuthPauseKind, upstreamCode: string, deadRefresh?: string) =>
    fleetPause.set(kind, upstreamCode, deadRefresh ? fingerprint(deadRefresh) : '');
  const canRefresh = Boolean(config.refreshToken && config.clientId && config.clientSecret);
  let seeded: Promise<void> | undefined;
  let inflight: Promise<TokenState> | undefined;
  // Tokens are secrets at rest too: sealed with ENCRYPTION_KEY when one is configured. A value that
  // is not one of our ciphertexts (stored before the key was set) is read as it is.
  const seal = (value: string) => (deps.secretKey && value ? encryptSecret(deps.secretKey, value) : value);
  const open = (value: string | null | undefined) => {
    if (!value || !deps.secretKey || !value.startsWith('v1.')) return value;
    try {
      return decryptSecret(deps.secretKey, value);
    } catch {
      return value;
    }
  };

  const seed = () => {
    seeded ??= seedScript
      .run(
        redis,
        [key, pauseKey],
        [
          fingerprint(`${config.accessToken ?? ''}\n${config.refreshToken ?? ''}`),
          seal(config.accessToken ?? ''),
          seal(config.refreshToken ?? ''),
          config.refreshToken ? fingerprint(config.refreshToken) : '',
        ],
      )
      .then(
        (result) => {
          if (Number(result) === 2) {
            logger.warn(
              'DOORFLOW_REFRESH_TOKEN was used here before (DoorFlow rotated it, `auth set-token` replaced it or DoorFlow refused it): the stored token and any auth pause are kept; to change the grant, run `auth set-token`',
            );
          }
        },
        (err: unknown) => {
          seeded = undefined;
          throw err;
        },
      );
    return seeded;
  };

  async function read(): Promise<TokenState> {
    const [sealedAccess, sealedRefresh, expiresAt, refreshAt, deadRefresh] = await redis.hmget(
      key,
      'access',
      'refresh',
      'expiresAt',
      'refreshAt',
      'deadRefresh',
    );
    const access = open(sealedAccess);
    const refresh = open(sealedRefresh);
    secretRegistry.add(access);
    secretRegistry.add(refresh);
    return {
      access: access || undefined,
      refresh: refresh || undefined,
      expiresAt: expiresAt ? Number(expiresAt) : undefined,
      refreshAt: refreshAt ? Number(refreshAt) : undefined,
      deadRefresh: deadRefresh || undefined,
    };
  }

  const due = (s: TokenState) => s.refreshAt !== undefined && clock.now() >= s.refreshAt;
  /** A token someone else obtained after `stale` was handed out. */
  const fresher = (s: TokenState, stale: string | undefined) =>
    s.access !== undefined && s.access !== stale && !due(s);

  function assertPresentable(s: TokenState): string {
    if (!s.refresh)
      throw unauthorized('No DoorFlow refresh token is available: re-authorize the application');
    return s.refresh;
  }

  const isDead = (s: TokenState) => s.refresh !== undefined && s.deadRefresh === fingerprint(s.refresh);

  /** Runs under the lock: re-read, then refresh only if nobody did. */
  async function refreshUnderLock(stale: string | undefined): Promise<TokenState> {
    const current = await read();
    if (fresher(current, stale)) return current;
    const refreshToken = assertPresentable(current);
    if (isDead(current)) throw authPausedError(await setPause('grant', 'invalid_grant'));
    const response = await deps.postToken({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: config.clientId ?? '',
      client_secret: config.clientSecret ?? '',
    });
    const body = (response.body ?? {}) as Record<string, unknown>;
    if (response.status < 200 || response.status >= 300 || typeof body.access_token !== 'string') {
      const error = errorFromResponse({ method: 'POST', route: '/oauth/token' }, response);
      if (error.status === 400 || error.status === 401) {
        // A wrong client secret says nothing about the refresh token: it is kept for when the
        // configuration is fixed. Anything else means the grant is gone.
        const upstream = error.upstreamCode ?? 'invalid_grant';
        const clientFault = upstream === 'invalid_client' || upstream === 'unauthorized_client';
        const pause = clientFault
          ? await setPause('client', upstream)
          : await setPause('grant', upstream, refreshToken);
        throw authPausedError(pause);
      }
      throw new DoorFlowError('token_refresh_failed', `DoorFlow token refresh failed: ${error.message}`, {
        status: error.status,
        upstreamCode: error.upstreamCode,
        retryable: error.status === undefined || error.retryable,
        retryAfterMs: error.retryAfterMs,
        cause: sanitizedCause(error),
      });
    }
    const lifetimeMs = Number(body.expires_in) > 0 ? Number(body.expires_in) * 1000 : 3_600_000;
    const now = clock.now();
    const next: TokenState = {
      access: body.access_token,
      refresh:
        typeof body.refresh_token === 'string' && body.refresh_token ? body.refresh_token : refreshToken,
      expiresAt: now + lifetimeMs,
      refreshAt: now + lifetimeMs - Math.min(REFRESH_EARLY_MS, lifetimeMs / 2),
      deadRefresh: undefined,
    };
    secretRegistry.add(next.access);
    secretRegistry.add(next.refresh);
    await redis
      .multi()
      .hset(key, {
        access: seal(next.access ?? ''),
        refresh: seal(next.refresh ?? ''),
        expiresAt: String(next.expiresAt),
        refreshAt: String(next.refreshAt),
      })
      .hdel(key, 'deadRefresh')
      .exec();
    logger.info(
      { expiresAt: new Date(next.expiresAt ?? 0).toISOString() },
      'refreshed the DoorFlow access token',
    );
    return next;
  }

  /** Fleet-wide single flight: take the lock or wait for whoever holds it. */
  async function refreshFleetWide(stale: string | undefined): Promise<TokenState> {
    const deadline = Date.now() + config.timeoutMs * 2 + 30_000;
    for (;;) {
      const lockValue = randomUUID();
      if ((await redis.set(lockKey, lockValue, 'PX', LOCK_TTL_MS, 'NX')) === 'OK') {
        // Keep the lock while a slow token request (or a budget pause) runs.
        const watchdog = setInterval(() => {
          compareAndExpire.run(redis, [lockKey], [lockValue, LOCK_TTL_MS]).catch(() => {});
        }, LOCK_TTL_MS / 3);
        watchdog.unref();
        try {
          return await refreshUnderLock(stale);
        } finally {
          clearInterval(watchdog);
          await compareAndDelete.run(redis, [lockKey], [lockValue]).catch(() => {});
        }
      }
      await sleep(POLL_MS);
      const current = await read();
      if (fresher(current, stale)) return current;
      if (isDead(current)) throw authPausedError(await setPause('grant', 'invalid_grant'));
      await assertNotPaused();
      if (Date.now() > deadline) {
        throw new DoorFlowError(
          'token_refresh_timeout',
          'Timed out waiting for another process to refresh the DoorFlow token',
          {
            retryable: true,
          },
        );
      }
    }
  }

  /** Process-wide single flight on top; each caller may stop waiting on its own signal. */
  async function refresh(stale: string | undefined, signal?: AbortSignal): Promise<TokenState> {
    if (!inflight) {
      inflight = refreshFleetWide(stale).finally(() => {
        inflight = undefined;
      });
    }
    const shared = inflight;
    if (!signal) return await shared;
    if (signal.aborted) throw abortedError(signal);
    return await raceAbort(shared, signal);
  }

  return {
    canRefresh,
    async accessToken(signal) {
      if (!canRefresh) {
        if (!config.accessToken)
          throw unauthorized('No DoorFlow access token configured (DOORFLOW_ACCESS_TOKEN)');
        // A process with a fixed token honours the pause too: another process found access lost.
        await assertNotPaused();
        return config.accessToken;
      }
      await seed();
      const [current, paused] = await Promise.all([read(), readPause()]);
      if (paused) throw authPausedError(paused);
      if (current.access && !due(current)) return current.access;
      try {
        const next = await refresh(current.access, signal);
        if (!next.access) throw unauthorized('DoorFlow token refresh returned no access token');
        return next.access;
      } catch (err) {
        // A token that is due but not yet expired still works while the refresh is retried later.
        const stillValid =
          current.access && current.expiresAt !== undefined && clock.now() < current.expiresAt;
        if (
          stillValid &&
          err instanceof DoorFlowError &&
          err.retryable &&
          err.code !== 'aborted' &&
          err.code !== 'auth_paused'
        ) {
          logger.warn({ err }, 'early DoorFlow token refresh failed; using the current token meanwhile');
          return current.access as string;
        }
        throw err;
      }
    },
    async renewAfterUnauthorized(rejected, signal) {
      if (!canRefresh)
        throw unauthorized('DoorFlow rejected the access token and no refresh token is configured');
      await seed();
      await assertNotPaused();
      const next = await refresh(rejected, signal);
      if (!next.access || next.access === rejected)
        throw unauthorized('DoorFlow token refresh gave no new token');
      return next.access;
    },
    async state() {
      if (canRefresh) await seed();
      return canRefresh
        ? await read()
        : {
            access: config.accessToken,
            refresh: undefined,
            expiresAt: undefined,
            refreshAt: undefined,
            deadRefresh: undefined,
          };
    },
    async pause() {
      return await readPause();
    },
    async pauseAfterRejected() {
      return await setPause('rejected', 'unauthorized');
    },
    async replace(input) {
      await seed();
      const tx = redis.multi();
      if (input.refresh) {
        secretRegistry.add(input.refresh);
        // No access token: the next call refreshes with the new grant.
        tx.hset(key, 'refresh', seal(input.refresh)).hdel(
          key,
          'access',
          'expiresAt',
          'refreshAt',
          'deadRefresh',
        );
      }
      if (input.access) {
        secretRegistry.add(input.access);
        tx.hset(key, 'access', seal(input.access)).hdel(key, 'expiresAt', 'refreshAt');
      }
      await tx.del(pauseKey).exec();
      if (input.refresh) await rememberScript.run(redis, [key], [fingerprint(input.refresh)]);
      logger.warn(
        { refresh: Boolean(input.refresh), access: Boolean(input.access) },
        'DoorFlow token replaced: auth pause lifted',
      );
    },
  };
}
