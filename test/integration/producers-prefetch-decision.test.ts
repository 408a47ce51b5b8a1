import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import type { SimulatorStats } from '../../src/simulator/index.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

/**
 * Whether a run lists the account's people first (issue 16): the first page's `Total` says what
 * the listing costs, and the run's entries what looking them up costs; the cheaper wins. Calls are
 * counted by the simulator (spec mode). Delivery by DoorFlow (the default channel): DoorFlow holds
 * the email, so a new person costs one lookup by system_id, the person create and the credential.
 */

const ACCOUNT = 1_250; // 13 pages of 100: listing after the first page costs 12 calls

function calls(s: SimulatorStats): Record<string, number> {
  return Object.fromEntries(
    Object.entries(s.requests).map(([route, byStatus]) => [
      route,
      Object.values(byStatus).reduce((a, b) => a + b, 0),
    ]),
  );
}

function since(before: SimulatorStats, after: SimulatorStats): Record<string, number> {
  const b = calls(before);
  return Object.fromEntries(
    Object.entries(calls(after))
      .map(([route, n]) => [route, n - (b[route] ?? 0)] as const)
      .filter(([, n]) => n > 0),
  );
}

async function seedPeople(h: Harness, people: Record<string, unknown>[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < people.length) {
        const person = people[next++];
        const res = await fetch(`${h.sim.url}/api/3/people`, {
          method: 'POST',
          headers: { authorization: `Bearer ${h.sim.accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(person),
        });
        if (res.status !== 201) throw new Error(`seeding failed: ${res.status} ${await res.text()}`);
      }
    }),
  );
}

describe('intake: list the directory only when cheaper than looking entries up', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    const others = roster(ACCOUNT - 1, 50_000).map(({ line: _line, ...p }) => p);
    // Someone DoorFlow knows by email only (made by hand, no system_id): a roster entry adopts them.
    await seedPeople(h, [
      ...others,
      { first_name: 'Ada', last_name: 'Byhand', email: 'person3@example.test' },
    ]);
    await h.startWorkers();
    // The workers resolve the HID type once, before the counted runs.
    await h.pipeline.processorDeps().hidCredentialTypeId();
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it('5 new entries into a 1,250-person account: the first page, one lookup each, no listing', async () => {
    const before = h.sim.stats();
    const run = await intake(h.pipeline.intakeDeps(), { source: 'test', delivery: 'doorflow' }, roster(5));
    expect(run.indexed).toBe(false);
    const finished = await h.waitForRun(run.runId);
    expect(finished.counts.provisioned).toBe(5);
    const after = h.sim.stats();
    const used = since(before, after);
    // 1 first page + 5 × lookup by system_id; person 3 is found by the create's 422 on its email,
    // looked up by email once and adopted (its system_id set by one PUT), not created twice.
    expect(used['GET /api/3/people']).toBe(1 + 5 + 2);
    expect(used['POST /api/3/people']).toBe(5);
    expect(used['PUT /api/3/people/:personId']).toBe(1);
    // The adopted person may hold credentials already: listed once before the create.
    expect(used['GET /api/3/people/:personId/credentials']).toBe(1);
    expect(used['POST /api/3/people/:personId/credentials']).toBe(5);
    expect(after.requestsTotal - before.requestsTotal).toBe(8 + 5 + 1 + 1 + 5);
    expect(after.people).toBe(ACCOUNT + 4);
    expect(after.duplicates).toEqual({ peopleBySystemId: 0, peopleByEmail: 0, liveHidCredentials: 0 });
    const adopted = h.sim.people().find((p) => p.email === 'person3@example.test');
    expect(adopted?.system_id).toBe('E00003');
  });

  it('100 new entries into the same account: lists the 12 remaining pages instead of 100 lookups', async () => {
    const before = h.sim.stats();
    const run = await intake(
      h.pipeline.intakeDeps(),
      { source: 'test', delivery: 'doorflow' },
      roster(100, 1_000),
    );
    expect(run.indexed).toBe(true);
    const finished = await h.waitForRun(run.runId);
    expect(finished.counts.provisioned).toBe(100);
    const after = h.sim.stats();
    const used = since(before, after);
    const pages = Math.ceil((ACCOUNT + 4) / 100);
    expect(used['GET /api/3/people']).toBe(pages);
    expect(after.requestsTotal - before.requestsTotal).toBe(pages + 100 + 100);
    expect(after.duplicates).toEqual({ peopleBySystemId: 0, peopleByEmail: 0, liveHidCredentials: 0 });
  });

  it('without a prefetch (--no-prefetch) nothing is listed, not even the first page', async () => {
    const before = h.sim.stats();
    const run = await intake(
      h.pipeline.intakeDeps(),
      { source: 'test', delivery: 'doorflow', prefetch: false },
      roster(3, 2_000),
    );
    expect(run.indexed).toBe(false);
    await h.waitForRun(run.runId);
    expect(since(before, h.sim.stats())['GET /api/3/people']).toBe(3);
  });
});

describe('intake: a directory of one page is indexed by the first page alone', () => {
  let h: Harness;
  afterAll(async () => {
    await h?.close();
  });

  it('one list call, then no lookups', async () => {
    h = await startHarness();
    await seedPeople(
      h,
      roster(40, 70_000).map(({ line: _line, ...p }) => p),
    );
    await h.startWorkers();
    await h.pipeline.processorDeps().hidCredentialTypeId();
    const before = h.sim.stats();
    const run = await intake(h.pipeline.intakeDeps(), { source: 'test', delivery: 'webhook' }, roster(4));
    expect(run.indexed).toBe(true);
    const finished = await h.waitForRun(run.runId);
    expect(finished.counts.provisioned).toBe(4);
    const used = since(before, h.sim.stats());
    // Webhook delivery: no lookups (the index says absent), create, credential, read the code.
    expect(used['GET /api/3/people']).toBe(1);
    expect(h.sim.stats().requestsTotal - before.requestsTotal).toBe(1 + 4 * 3);
  });
});
