import type { ResolvedFaults } from './options.ts';
import type { SeededRandom } from './prng.ts';

/**
 * Fault decisions. Random ones are keyed by the request's sequence number (see prng.ts), so a
 * replay with the same seed hits the same requests. The rate limit is time-based by nature.
 */

export interface FaultCounters {
  serverErrors: number;
  hidOrigoFailures: number;
  lostResponses: number;
  slowResponses: number;
}

export type RateDecision = { limited: false } | { limited: true; retryInSec: number };

export class FaultEngine {
  /** Arrival times (ms) of the requests admitted within the current window. */
  #admitted: number[] = [];
  #head = 0;
  counters: FaultCounters = { serverErrors: 0, hidOrigoFailures: 0, lostResponses: 0, slowResponses: 0 };

  constructor(
    private readonly faults: () => ResolvedFaults,
    private readonly random: () => SeededRandom,
  ) {}

  reset(): void {
    this.#admitted = [];
    this.#head = 0;
    this.counters = { serverErrors: 0, hidOrigoFailures: 0, lostResponses: 0, slowResponses: 0 };
  }

  /**
   * Sliding-window limit: at most `rateLimitPerSec` admitted requests in any 1 s (for rates
   * below 1, one request per 1/rate seconds). Rejected requests do not use up the window.
   */
  rateLimit(nowMs: number): RateDecision {
    const limit = this.faults().rateLimitPerSec;
    if (!(limit > 0)) return { limited: false };
    const capacity = Math.max(1, Math.floor(limit));
    const windowMs = limit < 1 ? 1000 / limit : 1000;
    while (this.#head < this.#admitted.length && (this.#admitted[this.#head] as number) <= nowMs - windowMs) {
      this.#head++;
    }
    if (this.#head > 4096) {
      this.#admitted = this.#admitted.slice(this.#head);
      this.#head = 0;
    }
    if (this.#admitted.length - this.#head >= capacity) {
      const oldest = this.#admitted[this.#head] as number;
      return { limited: true, retryInSec: Math.max(1, Math.ceil((oldest + windowMs - nowMs) / 1000)) };
    }
    this.#admitted.push(nowMs);
    return { limited: false };
  }

  /** Latency + seeded jitter + (sometimes) a slow response, in ms. */
  delayMs(seq: number): number {
    const f = this.faults();
    let delay = f.latencyMs;
    if (f.jitterMs > 0) delay += Math.floor(this.random().float('jitter', seq) * f.jitterMs);
    if (this.random().chance('slow', seq, f.slowResponseRate)) {
      this.counters.slowResponses++;
      delay += f.slowResponseMs;
    }
    return delay;
  }

  serverError(seq: number): boolean {
    const hit = this.random().chance('serverError', seq, this.faults().serverErrorRate);
    if (hit) this.counters.serverErrors++;
    return hit;
  }

  /** 502 or 503 when HID Origo "fails" this credential create, else undefined. */
  hidOrigoFailure(seq: number): 502 | 503 | undefined {
    if (!this.random().chance('hidOrigo', seq, this.faults().hidOrigoFailureRate)) return undefined;
    this.counters.hidOrigoFailures++;
    return this.random().int('hidOrigoStatus', seq, 2) === 0 ? 502 : 503;
  }

  /** Whether the response to this successful create is lost. */
  lostResponse(seq: number, kind: 'person' | 'credential'): boolean {
    const hit = this.random().chance('lostResponse', seq, this.faults().lostResponse[kind]);
    if (hit) this.counters.lostResponses++;
    return hit;
  }
}
