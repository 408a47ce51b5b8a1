import express, { type Router } from 'express';
import type { RedisConnection } from '../lib/core/redis.ts';
import { DEFAULT_HEARTBEAT_STALE_MS } from '../lib/core/heartbeat.ts';
import { plural } from '../lib/core/plural.ts';
import type { WorkerStore } from '../lib/store/workers.ts';

/**
 * `/healthz`: the process is up and can recover by itself — 503 only when its Redis connection has
 * ended for good (ioredis stopped reconnecting), so an orchestrator restarts it then and not because
 * Redis blinked. `/readyz`: Redis answers PING and at least one worker has heartbeated recently (see
 * `src/lib/core/heartbeat.ts`); 503 with the failing checks otherwise. Raw Redis error text is never
 * echoed (it may name hosts or credentials): a failing check says "unreachable" or "timed out".
 */

export interface HealthOptions {
  redis: RedisConnection;
  /** Worker heartbeats. */
  workers: WorkerStore;
  /** Workers are stale after this long without a beat. Default 20 s. */
  staleAfterMs?: number;
  /** Readiness requires a live worker. Default true. */
  requireWorkers?: boolean;
  /** PING time-out. Default 2 s. */
  timeoutMs?: number;
}

interface Check {
  ok: boolean;
  detail: string;
}

class TimeoutError extends Error {}

function isTimeout(err: unknown): boolean {
  return err instanceof TimeoutError;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function healthRouter(options: HealthOptions): Router {
  const router = express.Router();
  const timeoutMs = options.timeoutMs ?? 2_000;
  router.get('/healthz', (_req, res) => {
    // 'end' is the one state ioredis does not leave by itself (retries given up, or closed).
    const dead = options.redis.status === 'end';
    res
      .status(dead ? 503 : 200)
      .set('Cache-Control', 'no-store')
      .json({
        status: dead ? 'redis_connection_ended' : 'ok',
        uptime_s: Math.round(process.uptime()),
      });
  });
  router.get('/readyz', async (_req, res) => {
    const checks: Record<string, Check> = {};
    try {
      const pong = await withTimeout(options.redis.ping(), timeoutMs);
      checks.redis = { ok: pong === 'PONG', detail: pong };
    } catch (err) {
      // Never echo the error text: it can name hosts, ports and (in a URL) credentials.
      checks.redis = { ok: false, detail: isTimeout(err) ? 'timed out' : 'unreachable' };
    }
    if (options.requireWorkers ?? true) {
      if (checks.redis.ok) {
        try {
          const ids = await withTimeout(
            options.workers.live(options.staleAfterMs ?? DEFAULT_HEARTBEAT_STALE_MS),
            timeoutMs,
          );
          checks.workers = { ok: ids.length > 0, detail: `${plural(ids.length, 'live worker')}` };
        } catch (err) {
          checks.workers = { ok: false, detail: isTimeout(err) ? 'timed out' : 'unreachable' };
        }
      } else {
        checks.workers = { ok: false, detail: 'redis unreachable' };
      }
    }
    const ready = Object.values(checks).every((c) => c.ok);
    res
      .status(ready ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({ status: ready ? 'ready' : 'not_ready', checks });
  });
  return router;
}
