import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Credential, Person } from '../../src/lib/doorflow/types.ts';
import { type RunningSimulator, startSimulator } from '../../src/simulator/index.ts';

/** A tiny webhook receiver: records raw bodies and headers, answers with queued statuses (then 200). */
interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
}
let receiver: Server;
let receiverUrl: string;
let received: Received[] = [];
let statuses: number[] = [];

let sim: RunningSimulator;
const SECRET = 'whsec-test-1234-e79e06a433e81878812ec1a67e16f5eb';

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(statuses.shift() ?? 200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  sim = await startSimulator({
    provisioningDelayMs: 10,
    revokeDelayMs: 10,
    webhook: { url: receiverUrl, secret: SECRET, batchWindowMs: 40, retryBaseMs: 20 },
  });
});
afterAll(async () => {
  await sim.close();
  await new Promise<void>((r) => receiver.close(() => r()));
});
beforeEach(() => {
  sim.reset();
  sim.configure({
    webhook: {
      format: 'real',
      badSignatureRate: 0,
      duplicateRate: 0,
      reorderRate: 0,
      maxAttempts: 5,
      batchWindowMs: 40,
      redeliverUnackedMs: 0,
    },
  });
  received = [];
  statuses = [];
});

/** Independent of the simulator's code: HMAC-SHA256 hex, compared in constant time. */
function verify(secret: string, signed: string, signature: string | undefined): boolean {
  const expected = Buffer.from(createHmac('sha256', secret).update(signed).digest('hex'));
  const given = Buffer.from(signature ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(path.startsWith('http') ? path : `${sim.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${sim.accessToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
  };
}

async function hidFor(n: number): Promise<{ pid: number; cred: Credential }> {
  const pid = ((await call('POST', '/api/3/people', { first_name: `P${n}`, last_name: 'X' })).body as Person)
    .id;
  const cred = (
    await call('POST', `/api/3/people/${pid}/credentials`, { person_credential: { credential_type_id: 8 } })
  ).body as Credential;
  return { pid, cred };
}

async function waitFor(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !predicate(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(predicate()).toBe(true);
}

interface RealEvent {
  action: string;
  resource: string;
  resource_type: string;
  resource_id: string;
  account_id: string;
  ack_token: string;
}

describe('simulator webhooks (real format)', () => {
  it('signs Timestamp.rawBody with the secret and sends thin PersonCredential notices for every status change', async () => {
    const { pid, cred } = await hidFor(1);
    await sim.webhooksIdle();
    expect(sim.acceptInvitation(sim.credentials()[0]?.invitation_code ?? '').ok).toBe(true);
    await waitFor(() => sim.credentials()[0]?.status === 'active');
    await sim.webhooksIdle();
    await call('DELETE', `/api/3/people/${pid}/credentials/${cred.id}`);
    await waitFor(() => sim.credentials()[0]?.status === 'revoked');
    await sim.webhooksIdle();

    const events: RealEvent[] = [];
    for (const r of received) {
      const ts = r.headers.timestamp as string;
      expect(ts).toMatch(/^\d+$/);
      expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(60);
      expect(r.headers['content-type']).toMatch(/application\/json/);
      expect(verify(SECRET, `${ts}.${r.raw}`, r.headers.signature as string)).toBe(true);
      expect(verify('another-secret', `${ts}.${r.raw}`, r.headers.signature as string)).toBe(false);
      const body = JSON.parse(r.raw) as RealEvent[];
      expect(Array.isArray(body)).toBe(true);
      events.push(...body);
    }
    expect(events.map((e) => e.action)).toEqual(['CREATE', 'UPDATE', 'UPDATE', 'UPDATE', 'DESTROY']);
    for (const e of events) {
      expect(e).toMatchObject({
        resource_type: 'PersonCredential',
        resource_id: cred.id,
        account_id: sim.options().accountId,
      });
      expect(e.resource).toBe(
        `${sim.url}/api/3/people/${pid}/credentials/${cred.id}?ack_token=${e.ack_token}`,
      );
      expect(e).not.toHaveProperty('status');
    }
    // Fetching a resource URL acknowledges its event.
    expect(sim.stats().webhooks).toMatchObject({ acked: 0, unacked: 5 });
    const fetched = await call('GET', events[0]?.resource ?? '');
    expect(fetched.status).toBe(200);
    expect(sim.stats().webhooks).toMatchObject({ acked: 1, unacked: 4 });
  });

  it('batches events raised together and retries a failing receiver with backoff', async () => {
    sim.configure({ webhook: { batchWindowMs: 300 } });
    statuses = [500, 503];
    const pids: number[] = [];
    for (let i = 0; i < 6; i++) {
      const pid = (
        (await call('POST', '/api/3/people', { first_name: `P${i}`, last_name: 'X' })).body as Person
      ).id;
      pids.push(pid);
    }
    await Promise.all(
      pids.map((pid) =>
        call('POST', `/api/3/people/${pid}/credentials`, { person_credential: { credential_type_id: 8 } }),
      ),
    );
    await sim.webhooksIdle();
    const batches = received.map((r) => JSON.parse(r.raw) as RealEvent[]);
    const delivered = batches.slice(2);
    expect(delivered.flat().length).toBe(6);
    expect(Math.max(...batches.map((b) => b.length))).toBeGreaterThan(1);
    // The two failed attempts carried the same events as the first successful one.
    expect(batches[0]).toEqual(batches[2]);
    expect(sim.stats().webhooks).toMatchObject({ attemptsFailed: 2, deliveriesDropped: 0 });
  });

  it('gives up after maxAttempts', async () => {
    sim.configure({ webhook: { maxAttempts: 2 } });
    statuses = [500, 500];
    await hidFor(1);
    await sim.webhooksIdle();
    expect(received.length).toBe(2);
    expect(sim.stats().webhooks).toMatchObject({
      attemptsFailed: 2,
      deliveriesDropped: 1,
      deliveriesSucceeded: 0,
    });
  });

  it('re-sends an unacknowledged event once after redeliverUnackedMs, with the same ack_token', async () => {
    sim.configure({ webhook: { redeliverUnackedMs: 50 } });
    await hidFor(1);
    await waitFor(() => received.length >= 2);
    await sim.webhooksIdle();
    const [first, second] = received.map((r) => JSON.parse(r.raw) as RealEvent[]);
    expect(second).toEqual(first);
    await new Promise((r) => setTimeout(r, 150));
    expect(received.length).toBe(2);
  });

  it('fault options: bad signatures and duplicate deliveries', async () => {
    sim.configure({ webhook: { badSignatureRate: 1, duplicateRate: 1 } });
    await hidFor(1);
    await sim.webhooksIdle();
    expect(received.length).toBe(2);
    expect(received[0]?.raw).toBe(received[1]?.raw);
    // The duplicate is re-signed a second later, so only the event (ack_token) gives it away.
    expect(received[1]?.headers.timestamp).not.toBe(received[0]?.headers.timestamp);
    for (const r of received) {
      expect(verify(SECRET, `${r.headers.timestamp}.${r.raw}`, r.headers.signature as string)).toBe(false);
    }
  });
});

describe('simulator webhooks (seed format)', () => {
  it('sends one credential.status_changed object per change, signed over the raw body', async () => {
    sim.configure({ webhook: { format: 'seed' } });
    const { pid, cred } = await hidFor(1);
    sim.acceptInvitation(sim.credentials()[0]?.invitation_code ?? '');
    await waitFor(() => sim.credentials()[0]?.status === 'active');
    await sim.webhooksIdle();
    expect(received.length).toBe(3);
    const bodies = received.map((r) => {
      expect(r.headers.timestamp).toBeUndefined();
      expect(verify(SECRET, r.raw, r.headers.signature as string)).toBe(true);
      return JSON.parse(r.raw) as Record<string, unknown>;
    });
    expect(bodies.map((b) => [b.old_status, b.new_status])).toEqual([
      [null, 'invited'],
      ['invited', 'provisioning'],
      ['provisioning', 'active'],
    ]);
    for (const b of bodies) {
      expect(b).toMatchObject({ event: 'credential.status_changed', credential_id: cred.id, person_id: pid });
      expect(Date.parse(String(b.timestamp))).not.toBeNaN();
    }
  });

  it('reorder fault: events raised together arrive out of order', async () => {
    sim.configure({ webhook: { format: 'seed', reorderRate: 1, batchWindowMs: 200 } });
    const pids: number[] = [];
    for (let i = 0; i < 8; i++) {
      pids.push(
        ((await call('POST', '/api/3/people', { first_name: `P${i}`, last_name: 'X' })).body as Person).id,
      );
    }
    for (const pid of pids) {
      await call('POST', `/api/3/people/${pid}/credentials`, {
        person_credential: { credential_type_id: 8 },
      });
    }
    await sim.webhooksIdle();
    const order = received.map((r) => (JSON.parse(r.raw) as { person_id: number }).person_id);
    expect([...order].sort((a, b) => a - b)).toEqual(pids);
    expect(order).not.toEqual(pids);
  });
});
