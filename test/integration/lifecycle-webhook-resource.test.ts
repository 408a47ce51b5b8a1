import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { statusEventEnqueuer } from '../../src/server/doorflow-webhooks.ts';
import { type LifecycleHarness, startLifecycle } from '../helpers/lifecycle.ts';
import { roster } from '../helpers/pipeline.ts';

/**
 * A real HTTP hop in front of the simulator that answers the next `n` GETs of one credential
 * with 404 (a replica that has not seen it yet, or a gone credential), and forwards the rest.
 */
async function startNotFoundGate(): Promise<{
  url: string;
  target: { url: string };
  arm(pathPart: string, n: number): void;
  close(): Promise<void>;
}> {
  const target = { url: '' };
  let armed: { pathPart: string; n: number } | undefined;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method === 'GET' && armed && armed.n > 0 && req.url?.includes(armed.pathPart)) {
      armed.n--;
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
      return;
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers.set(k, v);
    }
    const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
    const upstream = await fetch(`${target.url}${req.url}`, {
      method: req.method ?? 'GET',
      headers,
      ...(body ? { body } : {}),
    });
    const out: Record<string, string> = {};
    upstream.headers.forEach((v, k) => {
      if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'content-encoding') out[k] = v;
    });
    res.writeHead(upstream.status, out).end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    target,
    arm: (pathPart, n) => {
      armed = { pathPart, n };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('status events: the fetched resource decides', () => {
  let lh: LifecycleHarness | undefined;
  let gate: Awaited<ReturnType<typeof startNotFoundGate>> | undefined;
  afterEach(async () => {
    await lh?.close();
    await gate?.close();
    lh = undefined;
    gate = undefined;
  });

  async function setup() {
    gate = await startNotFoundGate();
    lh = await startLifecycle({ env: { DOORFLOW_BASE_URL: gate.url } });
    gate.target.url = lh.h.sim.url;
    const l = lh;
    const run = await intake(l.h.pipeline.intakeDeps(), { source: 'test', delivery: 'email' }, roster(2));
    await l.h.waitForRun(run.runId);
    await l.smtp.waitFor(2);
    const [a, b] = l.h.sim.credentials();
    if (!a?.invitation_code || !b?.invitation_code) throw new Error('no credentials');
    for (const c of [a, b]) {
      await l.waitFor('invited recorded', async () => (await l.record(c.id))?.status === 'invited');
    }
    const enqueue = statusEventEnqueuer(l.h.pipeline.queues);
    let n = 0;
    const notice = async (resourceId: string, personId: number, credentialId: string, action = 'UPDATE') => {
      n++;
      await enqueue([
        {
          format: 'real',
          action,
          resourceType: 'PersonCredential',
          resourceId,
          resource: `${gate?.url}/api/3/people/${personId}/credentials/${credentialId}?ack_token=t${n}`,
          ackToken: `t${n}`,
          receivedAt: Date.now(),
        },
      ]);
    };
    return { l, a, b, notice };
  }

  it('a notice whose resource_id disagrees with the fetched resource updates the fetched credential', async () => {
    const { l, a, b, notice } = await setup();
    expect(l.h.sim.acceptInvitation(b.invitation_code ?? '').ok).toBe(true);
    await notice(a.id, b.person_id, b.id);
    await l.waitFor('b provisioning', async () => {
      const s = (await l.record(b.id))?.status;
      return s === 'provisioning' || s === 'active' ? s : undefined;
    });
    expect((await l.record(a.id))?.status).toBe('invited');
  });

  it('one 404 then 200 records no deletion; two 404s do', async () => {
    const { l, a, b, notice } = await setup();
    gate?.arm(`/credentials/${a.id}`, 1);
    await notice(a.id, a.person_id, a.id);
    await l.waitFor('a read twice', async () => {
      const done = await l.h.pipeline.queues.get('status-events').getJobCounts('completed');
      return (done.completed ?? 0) >= 1 ? true : undefined;
    });
    expect((await l.record(a.id))?.status).toBe('invited');

    gate?.arm(`/credentials/${b.id}`, 2);
    await notice(b.id, b.person_id, b.id);
    await l.waitFor('b deleted', async () =>
      (await l.record(b.id))?.status === 'deleted' ? true : undefined,
    );
    expect((await l.record(a.id))?.status).toBe('invited');
  });
});
