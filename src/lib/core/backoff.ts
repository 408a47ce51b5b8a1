/** Pure retry-delay arithmetic, shared by the DoorFlow client and BullMQ's custom backoff. */

export interface BackoffOptions {
  /** Delay before the first retry, in ms. */
  baseMs: number;
  /** Upper bound for any single delay, in ms. */
  maxMs: number;
  /** 0..1: the fraction of the delay that is randomised ("equal jitter" at 0.5). */
  jitter?: number;
}

/**
 * Exponential backoff with jitter for the given 1-based attempt number. A server-provided
 * `retryAfterMs` wins over the computed delay (but is still capped at `maxMs`).
 */
export function backoffDelayMs(
  attempt: number,
  options: BackoffOptions,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined && retryAfterMs >= 0) return Math.min(retryAfterMs, options.maxMs);
  const exp = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  return Math.round(exp * (1 - jitter) + exp * jitter * random());
}

/** Total worst-case wait across `attempts` tries (for documenting that defaults span an hour). */
export function totalBackoffSpanMs(attempts: number, options: BackoffOptions): number {
  let total = 0;
  for (let attempt = 1; attempt < attempts; attempt++)
    total += backoffDelayMs(attempt, { ...options, jitter: 0 });
  return total;
}

/**
 * Reads how long a server asked us to wait: the `Retry-After` header (seconds or HTTP date) or a
 * body field `retry_in` / `retry_after` (seconds). Returns ms, or undefined when none is given.
 */
export function parseRetryAfterMs(
  header: string | string[] | undefined,
  body: unknown,
  nowMs: number = Date.now(),
): number | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw !== undefined && raw.trim() !== '') {
    const seconds = Number(raw);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
    const date = Date.parse(raw);
    if (!Number.isNaN(date)) return Math.max(0, date - nowMs);
  }
  if (body && typeof body === 'object') {
    for (const field of ['retry_in', 'retry_after'] as const) {
      const value = Number((body as Record<string, unknown>)[field]);
      if (Number.isFinite(value) && value >= 0) return Math.round(value * 1000);
    }
  }
  return undefined;
}
