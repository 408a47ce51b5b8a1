import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fault-injecting HTTP proxy in front of the simulator, for the faults the simulator itself does
 * not model: a fleet-wide 429 storm with `Retry-After`, time-outs on HID credential creates (the
 * create commits, the answer never comes), 5xx on those creates, and permanent 422s for chosen
 * people. Every other request is forwarded untouched, so the simulator's own counters (people,
 * credentials, duplicates, writes) stay the ground truth.
 */

/** Live fault settings; change them with {@link FaultProxy.configure}. */
export interface ProxyFaults {
  /** Until this time (ms since epoch) every /api/3 request is answered 429. */
  stormUntil: number;
  /** `Retry-After` seconds sent with storm 429s. */
  stormRetryAfterSec: number;
  /** Probability that an HID credential create is answered 503 without reaching DoorFlow. */
  credentialServerErrorRate: number;
  /** Probability that an HID credential create reaches DoorFlow but its answer is held, then dropped. */
  credentialTimeoutRate: number;
  /** How long a timed-out answer is held before the socket is destroyed (ms). */
  timeoutHoldMs: number;
  /** People (DoorFlow ids) whose credential creates are always refused with 422. */
  unprocessable: (personId: number) => boolean;
}

export interface ProxyCounters {
  forwarded: number;
  storm429: number;
  credential5xx: number;
  credentialTimeouts: number;
  credential422: number;
}

export interface FaultProxy {
  readonly url: string;
  readonly counters: ProxyCounters;
  /** People that were refused with 422 at least once. */
  readonly refusedPeople: Set<number>;
  configure(patch: Partial<ProxyFaults>): void;
  close(): Promise<void>;
}

const NO_FAULTS: ProxyFaults = {
  stormUntil: 0,
  stormRetryAfterSec: 10,
  credentialServerErrorRate: 0,
  credentialTimeoutRate: 0,
  timeoutHoldMs: 5_000,
  unprocessable: () => false,
};

/** A small seeded PRNG (mulberry32): the same seed picks the same faulted requests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const CREDENTIAL_CREATE = /^\/api\/3\/people\/(\d+)\/credentials\/?$/;

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export async function startFaultProxy(targetUrl: string, seed = 1): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const random = seededRandom(seed);
  let faults: ProxyFaults = { ...NO_FAULTS };
  const counters: ProxyCounters = {
    forwarded: 0,
    storm429: 0,
    credential5xx: 0,
    credentialTimeouts: 0,
    credential422: 0,
  };
  const refusedPeople = new Set<number>();
  const held = new Set<NodeJS.Timeout>();

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, hold: boolean) => {
    counters.forwarded++;
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host, 'content-length': String(body.length) },
        agent,
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          if (hold) {
            // The create committed upstream; the caller never hears back (a time-out).
            const timer = setTimeout(() => {
              held.delete(timer);
              req.socket.destroy();
            }, faults.timeoutHoldMs);
            held.add(timer);
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(Buffer.concat(chunks));
        });
      },
    );
    upstream.on('error', () => req.socket.destroy());
    upstream.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (path.startsWith('/api/3/') && Date.now() < faults.stormUntil) {
        counters.storm429++;
        json(
          res,
          429,
          { error: 'rate_limited', description: 'storm', retry_in: faults.stormRetryAfterSec },
          { 'retry-after': String(faults.stormRetryAfterSec) },
        );
        return;
      }
      const create = req.method === 'POST' ? CREDENTIAL_CREATE.exec(path) : null;
      if (create) {
        const personId = Number(create[1]);
        if (faults.unprocessable(personId)) {
          counters.credential422++;
          refusedPeople.add(personId);
          json(res, 422, { error: 'unprocessable_entity', errors: { value: ['is not allowed (chaos)'] } });
          return;
        }
        const roll = random();
        if (roll < faults.credentialServerErrorRate) {
          counters.credential5xx++;
          json(res, 503, { error: 'service_unavailable', error_description: 'HID Origo (chaos)' });
          return;
        }
        if (roll < faults.credentialServerErrorRate + faults.credentialTimeoutRate) {
          counters.credentialTimeouts++;
          forward(req, res, body, true);
          return;
        }
      }
      forward(req, res, body, false);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counters,
    refusedPeople,
    configure(patch) {
      faults = { ...faults, ...patch };
    },
    async close() {
      for (const timer of held) clearTimeout(timer);
      held.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
