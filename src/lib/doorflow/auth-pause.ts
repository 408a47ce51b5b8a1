import type { RedisConnection } from '../core/redis.ts';
import type { Clock } from '../core/clock.ts';
import { DoorFlowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { luaScript } from '../core/lua.ts';

/**
 * The fleet-wide auth pause (the `auth:pause` hash): set once when DoorFlow access is lost, honoured
 * by every process before any DoorFlow call, lifted when a new token is stored (auth.ts).
 */

/** Why DoorFlow access is paused: the grant is gone, the client is misconfigured, or a fresh token was refused. */
export type AuthPauseKind = 'grant' | 'client' | 'rejected';

/** The fleet-wide auth pause (no secrets). */
export interface AuthPause {
  /** Epoch ms the pause was set. */
  since: number;
  kind: AuthPauseKind;
  /** DoorFlow's error code (`invalid_grant`, `invalid_client`, …) or `unauthorized`. */
  upstreamCode: string;
  /** What the operator should do. */
  reason: string;
}

const PAUSE_REASONS: Record<AuthPauseKind, string> = {
  grant:
    'DoorFlow refused the refresh token (grant revoked or expired): run `auth set-token` with a new refresh token',
  client:
    'DoorFlow refused the client credentials (a configuration error): fix DOORFLOW_CLIENT_ID / DOORFLOW_CLIENT_SECRET; the refresh token was kept',
  rejected: 'DoorFlow refused a freshly refreshed access token: re-authorize and run `auth set-token`',
};

/** DoorFlow access is paused fleet-wide: the job waits (retryable, no attempt spent). */
export function authPausedError(pause: AuthPause): DoorFlowError {
  return new DoorFlowError('auth_paused', `DoorFlow access is paused: ${pause.reason}`, {
    upstreamCode: pause.upstreamCode,
    retryable: true,
  });
}

/** Sets the pause unless one is in force. Returns 1 when this call set it (the one that alerts). */
const setPauseScript = luaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'since', ARGV[1], 'kind', ARGV[2], 'upstreamCode', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], 'deadRefresh', ARGV[4]) end
return 1
`);

export interface AuthPauseDeps {
  redis: RedisConnection;
  /** `pause`: the pause hash; `tokens`: the token hash, where a dead refresh token is marked. */
  keys: { pause: string; tokens: string };
  logger: Logger;
  clock: Clock;
  /** Called in the one process (fleet-wide) that set the pause: the alert. */
  onPause?: ((pause: AuthPause) => void) | undefined;
}

export interface FleetAuthPause {
  read(): Promise<AuthPause | undefined>;
  /** Sets the pause (marking the refresh token with this fingerprint dead, when given). */
  set(kind: AuthPauseKind, upstreamCode: string, deadRefreshFingerprint: string): Promise<AuthPause>;
  /** Throws {@link authPausedError} while the pause is in force. */
  assertNot(): Promise<void>;
}

export function createAuthPause(deps: AuthPauseDeps): FleetAuthPause {
  const { redis, logger, clock } = deps;
  const pauseKey = deps.keys.pause;
  const key = deps.keys.tokens;
  async function readPause(): Promise<AuthPause | undefined> {
    const h = await redis.hgetall(pauseKey);
    if (!h.since) return undefined;
    const kind = (h.kind as AuthPauseKind) in PAUSE_REASONS ? (h.kind as AuthPauseKind) : 'grant';
    return {
      since: Number(h.since),
      kind,
      upstreamCode: h.upstreamCode ?? 'unauthorized',
      reason: PAUSE_REASONS[kind],
    };
  }

  /** Sets the fleet-wide pause (marking the dead refresh token with it, unless the client is at fault). */
  async function setPause(
    kind: AuthPauseKind,
    upstreamCode: string,
    deadRefreshFingerprint: string,
  ): Promise<AuthPause> {
    const set = await setPauseScript.run(
      redis,
      [pauseKey, key],
      [clock.now(), kind, upstreamCode, deadRefreshFingerprint],
    );
    const pause = (await readPause()) ?? {
      since: clock.now(),
      kind,
      upstreamCode,
      reason: PAUSE_REASONS[kind],
    };
    if (Number(set) === 1) {
      logger.error({ kind, upstreamCode }, `DoorFlow access lost: pausing every process. ${pause.reason}`);
      deps.onPause?.(pause);
    }
    return pause;
  }

  async function assertNotPaused(): Promise<void> {
    const pause = await readPause();
    if (pause) throw authPausedError(pause);
  }

  return { read: readPause, set: setPause, assertNot: assertNotPaused };
}
