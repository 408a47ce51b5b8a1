import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';

/**
 * A small delivery-webhook receiver, as a customer would write one: it verifies
 * `X-Provisioner-Signature` (hex HMAC-SHA256 of `${timestamp}.${rawBody}`) in constant time and a
 * ±5 min timestamp window before accepting. Used by `demo` and by the integration tests. It keeps
 * counts per credential; it never prints a code.
 */

export interface ReceivedDelivery {
  runId: string;
  personId: number;
  systemId: string | null;
  credentialId: string;
  /** Whether a code of the expected shape was present (the code itself is not kept). */
  hasCode: boolean;
  at: number;
}

export interface DeliveryReceiver {
  readonly url: string;
  /** Accepted (verified) deliveries, in arrival order. */
  readonly accepted: ReceivedDelivery[];
  /** Verified repeats of a delivery id already accepted (answered 200, not recorded again). */
  repeats(): number;
  /** Requests refused for a bad or missing signature/timestamp. */
  rejected(): number;
  /** Requests answered with an injected failure. */
  failedOnPurpose(): number;
  /** Accepted deliveries per credential id. */
  countsByCredential(): Map<string, number>;
  /** Probability (0..1) of answering 503 to a valid request (before recording it). */
  setFailureRate(rate: number): void;
  close(): Promise<void>;
}

const WINDOW_S = 300;

export function verifySignature(
  secret: string,
  timestamp: string,
  rawBody: string,
  signature: string,
): boolean {
  const expected = createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(signature, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startDeliveryReceiver(options: {
  secret: string;
  failureRate?: number;
  random?: () => number;
  /** The receiver's clock for the signature's time window (the soak benchmark moves the senders' clock). Default: real time. */
  now?: () => number;
}): Promise<DeliveryReceiver> {
  const accepted: ReceivedDelivery[] = [];
  let rejected = 0;
  let failed = 0;
  let repeats = 0;
  const seen = new Set<string>();
  let failureRate = options.failureRate ?? 0;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const server = createServer((req, res) => {
    readBody(req).then(
      (raw) => {
        const ts = String(req.headers['x-provisioner-timestamp'] ?? '');
        const sig = String(req.headers['x-provisioner-signature'] ?? '');
        const fresh = Math.abs(now() / 1000 - Number(ts)) <= WINDOW_S;
        if (req.method !== 'POST' || !fresh || !verifySignature(options.secret, ts, raw, sig)) {
          rejected++;
          res.writeHead(401).end();
          return;
        }
        if (failureRate > 0 && random() < failureRate) {
          failed++;
          res.writeHead(503).end();
          return;
        }
        const body = JSON.parse(raw) as {
          delivery_id?: string;
          run_id: string;
          person: { id: number; system_id: string | null };
          credential: { id: string };
          invitation_code?: string;
        };
        // Idempotency: a send cut off by a worker crash is retried with the same delivery id.
        const id = body.delivery_id ?? `${body.credential.id}.webhook`;
        if (seen.has(id)) {
          repeats++;
          res.writeHead(200).end();
          return;
        }
        seen.add(id);
        accepted.push({
          runId: body.run_id,
          personId: body.person.id,
          systemId: body.person.system_id,
          credentialId: body.credential.id,
          hasCode: typeof body.invitation_code === 'string' && body.invitation_code.length > 0,
          at: now(),
        });
        res.writeHead(204).end();
      },
      () => res.writeHead(400).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/deliveries`,
    accepted,
    rejected: () => rejected,
    repeats: () => repeats,
    failedOnPurpose: () => failed,
    countsByCredential() {
      const counts = new Map<string, number>();
      for (const d of accepted) counts.set(d.credentialId, (counts.get(d.credentialId) ?? 0) + 1);
      return counts;
    },
    setFailureRate(rate) {
      failureRate = rate;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
