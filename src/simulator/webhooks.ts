import type { Logger } from '../lib/core/logger.ts';
import type { StatusChange } from './lifecycle.ts';
import type { ResolvedWebhook } from './options.ts';
import type { SeededRandom } from './prng.ts';
import { signReal, signSeed, type WebhookEvent, webhookBody } from './webhook-payload.ts';

/**
 * Outgoing webhooks. Events are collected for `batchWindowMs`, then sent: `real` format as one
 * signed JSON array per batch, `seed` format as one signed object per event. Failed deliveries are
 * retried with doubling backoff; acks are recorded when the resource URL is fetched with its token.
 */

/** One attempt, kept for inspection (the last 1000). */
export interface DeliveryRecord {
  unit: number;
  attempt: number;
  events: number;
  status: number | undefined;
  error: string | undefined;
  badSignature: boolean;
  duplicate: boolean;
  atMs: number;
}

export interface WebhookStats {
  eventsQueued: number;
  deliveriesSucceeded: number;
  attemptsFailed: number;
  deliveriesDropped: number;
  acked: number;
  unacked: number;
  pending: number;
}

interface Unit {
  id: number;
  events: WebhookEvent[];
}

/** Duplicates are sent this much later, past the next whole second of `Timestamp`. */
const DUPLICATE_AFTER_MS = 1100;

export class WebhookDispatcher {
  #queue: WebhookEvent[] = [];
  #flushTimer: NodeJS.Timeout | undefined;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inFlight = new Set<AbortController>();
  readonly #unacked = new Map<string, WebhookEvent>();
  #eventSeq = 0;
  #unitSeq = 0;
  #active = 0;
  /** Bumped by reset(): deliveries started before it stop retrying. */
  #generation = 0;
  #idleWaiters: (() => void)[] = [];
  log: DeliveryRecord[] = [];
  stats: WebhookStats = this.#zero();

  constructor(
    private readonly deps: {
      options: () => ResolvedWebhook;
      random: () => SeededRandom;
      resourceUrl: (personId: number, credentialId: string, ackToken: string) => string;
      accountId: () => string;
      logger: Logger;
    },
  ) {}

  #zero(): WebhookStats {
    return {
      eventsQueued: 0,
      deliveriesSucceeded: 0,
      attemptsFailed: 0,
      deliveriesDropped: 0,
      acked: 0,
      unacked: 0,
      pending: 0,
    };
  }

  /** Cancels everything queued or in flight. */
  reset(): void {
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#generation++;
    for (const c of this.#inFlight) c.abort();
    this.#queue = [];
    this.#unacked.clear();
    this.log = [];
    this.stats = this.#zero();
    this.#active = 0;
    this.#wakeIdle();
  }

  enqueue(change: StatusChange): void {
    if (!this.deps.options().url) return;
    const seq = ++this.#eventSeq;
    const ackToken = this.deps.random().string('ackToken', seq, 24, '0123456789abcdef');
    this.#push({
      seq,
      action: change.action,
      credentialId: change.credential.id,
      personId: change.credential.personId,
      oldStatus: change.oldStatus,
      newStatus: change.newStatus,
      atMs: change.atMs,
      ackToken,
      redelivered: false,
    });
    change.credential.ackTokens.add(ackToken);
  }

  #push(event: WebhookEvent): void {
    this.#queue.push(event);
    this.#unacked.set(event.ackToken, event);
    this.stats.eventsQueued++;
    this.#active++;
    const opts = this.deps.options();
    if (this.#queue.length >= opts.maxBatchSize) this.#flush();
    else this.#flushTimer ??= this.#timer(opts.batchWindowMs, () => this.#flush());
  }

  /** Records an ack; true when the token belonged to an unacknowledged event. */
  ack(token: string): boolean {
    const event = this.#unacked.get(token);
    if (!event) return false;
    this.#unacked.delete(token);
    this.stats.acked++;
    return true;
  }

  unackedCount(): number {
    return this.#unacked.size;
  }

  /** Resolves once every queued event has been delivered or dropped. */
  idle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #wakeIdle(): void {
    if (this.#active > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  #timer(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (t === this.#flushTimer) this.#flushTimer = undefined;
      fn();
    }, ms);
    t.unref();
    this.#timers.add(t);
    return t;
  }

  #flush(): void {
    if (this.#flushTimer) {
      clearTimeout(this.#flushTimer);
      this.#timers.delete(this.#flushTimer);
      this.#flushTimer = undefined;
    }
    const opts = this.deps.options();
    while (this.#queue.length > 0) {
      let batch = this.#queue.splice(0, opts.maxBatchSize);
      const unitBase = this.#unitSeq + 1;
      if (this.deps.random().chance('webhookReorder', unitBase, opts.reorderRate)) {
        batch = this.deps.random().shuffle('webhookReorder', unitBase, batch);
      }
      const units: WebhookEvent[][] = opts.format === 'real' ? [batch] : batch.map((e) => [e]);
      for (const events of units) void this.#deliver({ id: ++this.#unitSeq, events }, 1);
    }
  }

  async #post(unit: Unit, attempt: number, duplicate: boolean): Promise<boolean> {
    const opts = this.deps.options();
    const rnd = this.deps.random();
    const body = webhookBody(unit.events, opts.format, this.deps.resourceUrl, this.deps.accountId());
    const timestamp = String(Math.floor(Date.now() / 1000));
    const bad = rnd.chance('webhookBadSignature', unit.id * 64 + attempt, opts.badSignatureRate);
    const secret = bad ? `${opts.secret}:not-the-secret` : opts.secret;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'DoorFlow-Simulator',
    };
    if (opts.format === 'real') {
      headers.Timestamp = timestamp;
      headers.Signature = signReal(secret, timestamp, body);
    } else {
      headers.Signature = signSeed(secret, body);
    }
    const controller = new AbortController();
    this.#inFlight.add(controller);
    const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
    const record: DeliveryRecord = {
      unit: unit.id,
      attempt,
      events: unit.events.length,
      status: undefined,
      error: undefined,
      badSignature: bad,
      duplicate,
      atMs: Date.now(),
    };
    try {
      const res = await fetch(opts.url as string, {
        method: 'POST',
        headers,
        body,
        signal: controller.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      record.status = res.status;
      return res.ok;
    } catch (err) {
      record.error = err instanceof Error ? err.message : String(err);
      return false;
    } finally {
      clearTimeout(timer);
      this.#inFlight.delete(controller);
      this.log.push(record);
      if (this.log.length > 1000) this.log.splice(0, this.log.length - 1000);
    }
  }

  async #deliver(unit: Unit, attempt: number): Promise<void> {
    const opts = this.deps.options();
    const generation = this.#generation;
    const ok = await this.#post(unit, attempt, false);
    if (generation !== this.#generation) return;
    if (ok) {
      this.stats.deliveriesSucceeded++;
      if (this.deps.random().chance('webhookDuplicate', unit.id, opts.duplicateRate)) {
        // A second delivery of the same events a second later: a fresh Timestamp and Signature, so
        // receivers must dedupe on the event (ack_token), not just reject a replayed signature.
        this.#timer(DUPLICATE_AFTER_MS, () => {
          void this.#post(unit, attempt, true).finally(() => this.#done(unit));
        });
      } else {
        this.#done(unit);
      }
      this.#scheduleRedelivery(unit);
      return;
    }
    this.stats.attemptsFailed++;
    if (attempt >= opts.maxAttempts) {
      this.stats.deliveriesDropped++;
      this.deps.logger.warn({ unit: unit.id, attempts: attempt }, 'simulator webhook dropped after retries');
      this.#done(unit);
      return;
    }
    const delay = Math.min(60_000, opts.retryBaseMs * 2 ** (attempt - 1));
    this.#timer(delay, () => void this.#deliver(unit, attempt + 1));
  }

  #done(unit: Unit): void {
    this.#active = Math.max(0, this.#active - unit.events.length);
    this.#wakeIdle();
  }

  /** Optional redelivery: an event still unacknowledged after `redeliverUnackedMs` is sent once more. */
  #scheduleRedelivery(unit: Unit): void {
    const after = this.deps.options().redeliverUnackedMs;
    if (!(after > 0)) return;
    this.#timer(after, () => {
      for (const e of unit.events) {
        if (!e.redelivered && this.#unacked.has(e.ackToken)) this.#push({ ...e, redelivered: true });
      }
    });
  }

  snapshot(): WebhookStats {
    return { ...this.stats, unacked: this.#unacked.size, pending: this.#active };
  }
}
