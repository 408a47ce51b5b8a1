import { hostname } from 'node:os';
import type { Logger } from './logger.ts';

/**
 * Worker liveness for `/readyz`. Each worker process refreshes its beat (in Redis: the store's
 * `workers` sorted set) every `intervalMs`; readers count workers seen within `staleAfterMs`.
 */

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5_000;
export const DEFAULT_HEARTBEAT_STALE_MS = 20_000;

/** Where beats are kept (the worker store in Redis). */
export interface HeartbeatSink {
  beat(id: string, atMs: number): Promise<void>;
  leave(id: string): Promise<void>;
}

/** A readable id for this process: `host:pid`. */
export function workerId(): string {
  return `${hostname()}:${process.pid}`;
}

export interface Heartbeat {
  readonly id: string;
  /** Removes this worker's member so readiness drops at once on a clean shutdown. */
  stop(): Promise<void>;
}

/** Starts beating at once and then every `intervalMs`. */
export async function startHeartbeat(options: {
  workers: HeartbeatSink;
  id?: string;
  intervalMs?: number;
  logger?: Logger;
}): Promise<Heartbeat> {
  const id = options.id ?? workerId();
  const beat = async () => {
    await options.workers.beat(id, Date.now());
  };
  await beat();
  const timer = setInterval(() => {
    beat().catch((err: unknown) => options.logger?.warn({ err }, 'worker heartbeat failed'));
  }, options.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return {
    id,
    async stop() {
      clearInterval(timer);
      await options.workers.leave(id).catch(() => undefined);
    },
  };
}
