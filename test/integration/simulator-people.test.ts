import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Person } from '../../src/lib/doorflow/types.ts';
import { type RunningSimulator, startSimulator } from '../../src/simulator/index.ts';

let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${sim.accessToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as unknown) : undefined };
}

describe('simulator people', () => {
  it('creates from a flat body and a person-wrapped body with int ids and 201', async () => {
    const flat = await call('POST', '/api/3/people', {
      first_name: 'Ada',
      last_name: 'Lovelace',
      system_id: 'E1',
    });
    expect(flat.status).toBe(201);
    const wrapped = await call('POST', '/api/3/people', {
      person: { first_name: 'Alan', last_name: 'Turing', email: 'alan@example.com' },
    });
    expect(wrapped.status).toBe(201);
    const a = flat.body as Person;
    const b = wrapped.body as Person;
    expect(Number.isInteger(a.id)).toBe(true);
    expect(b.id).toBe(a.id + 1);
    expect(a).toMatchObject({ first_name: 'Ada', system_id: 'E1', enabled: true });
    expect(b.email).toBe('alan@example.com');
    expect(a.created_at).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('422 with errors.<field> arrays for missing names and a duplicate email (case-insensitive)', async () => {
    const missing = await call('POST', '/api/3/people', { email: 'x@example.com' });
    expect(missing.status).toBe(422);
    expect(missing.body).toMatchObject({
      error: expect.any(String),
      errors: { first_name: [expect.any(String)], last_name: [expect.any(String)] },
    });
    expect(
      (await call('POST', '/api/3/people', { first_name: 'A', last_name: 'B', email: 'Dup@Example.com' }))
        .status,
    ).toBe(201);
    const dup = await call('POST', '/api/3/people', {
      first_name: 'C',
      last_name: 'D',
      email: 'dup@example.COM',
    });
    expect(dup.status).toBe(422);
    expect(dup.body).toMatchObject({ errors: { email: ['has already been taken'] } });
    expect(sim.stats().people).toBe(1);
  });

  it('lists 250 people in pages of 50 by default, 100 at most, with Total and Per-Page headers', async () => {
    for (let i = 0; i < 250; i++) {
      const res = await call('POST', '/api/3/people', {
        first_name: `F${i}`,
        last_name: 'L',
        system_id: `S${i}`,
      });
      expect(res.status).toBe(201);
    }
    const first = await call('GET', '/api/3/people');
    expect(first.headers.get('total')).toBe('250');
    expect(first.headers.get('per-page')).toBe('50');
    expect((first.body as Person[]).length).toBe(50);

    const seen = new Set<number>();
    for (let page = 1; page <= 3; page++) {
      const res = await call('GET', `/api/3/people?per_page=100&page=${page}`);
      expect(res.headers.get('per-page')).toBe('100');
      for (const p of res.body as Person[]) seen.add(p.id);
      expect((res.body as Person[]).length).toBe(page < 3 ? 100 : 50);
    }
    expect(seen.size).toBe(250);
    const capped = await call('GET', '/api/3/people?per_page=1000');
    expect((capped.body as Person[]).length).toBe(100);
    const beyond = await call('GET', '/api/3/people?per_page=100&page=4');
    expect(beyond.body).toEqual([]);
    const all = await call('GET', '/api/3/people?skip_pagination=true');
    expect((all.body as Person[]).length).toBe(250);
  });

  it('filters by system_id (exact), email (partial, case-insensitive) and since_utc', async () => {
    await call('POST', '/api/3/people', {
      first_name: 'A',
      last_name: 'A',
      system_id: 'E-10',
      email: 'ann@corp.example',
    });
    await call('POST', '/api/3/people', {
      first_name: 'B',
      last_name: 'B',
      system_id: 'E-100',
      email: 'bob@corp.example',
    });
    const bySystemId = await call('GET', '/api/3/people?system_id=E-10');
    expect((bySystemId.body as Person[]).map((p) => p.system_id)).toEqual(['E-10']);
    const byEmail = await call('GET', '/api/3/people?email=CORP.example');
    expect((byEmail.body as Person[]).length).toBe(2);
    const exactish = await call('GET', '/api/3/people?email=ANN@');
    expect((exactish.body as Person[]).map((p) => p.first_name)).toEqual(['A']);

    const cut = new Date(Date.now() + 5).toISOString();
    await new Promise((r) => setTimeout(r, 10));
    const people = (await call('GET', '/api/3/people')).body as Person[];
    await call('PUT', `/api/3/people/${people[1]?.id}`, { job_title: 'Engineer' });
    const since = await call('GET', `/api/3/people?since_utc=${encodeURIComponent(cut)}`);
    expect((since.body as Person[]).map((p) => p.first_name)).toEqual(['B']);
  });

  it('GET, PUT → 201 (group_ids replaces the set), DELETE → 200 {"result":"ok"} then 404', async () => {
    const created = (
      await call('POST', '/api/3/people', { first_name: 'A', last_name: 'B', group_ids: [1, 2] })
    ).body as Person;
    expect(created.group_ids).toEqual([1, 2]);
    const got = await call('GET', `/api/3/people/${created.id}`);
    expect(got.status).toBe(200);
    const put = await call('PUT', `/api/3/people/${created.id}`, {
      person: { group_ids: [3], department: 'Ops' },
    });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ group_ids: [3], department: 'Ops', first_name: 'A' });
    const blank = await call('PUT', `/api/3/people/${created.id}`, { first_name: '' });
    expect(blank.status).toBe(422);

    const del = await call('DELETE', `/api/3/people/${created.id}`);
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ result: 'ok' });
    expect((await call('GET', `/api/3/people/${created.id}`)).status).toBe(404);
    expect((await call('PUT', `/api/3/people/${created.id}`, { notes: 'x' })).status).toBe(404);
    expect((await call('DELETE', `/api/3/people/${created.id}`)).status).toBe(404);
    expect((await call('GET', '/api/3/people/999999')).body).toMatchObject({ error: 'not_found' });
    expect(sim.stats()).toMatchObject({ people: 0, deletedPeople: 1 });
  });

  it('a duplicate email on update is refused; stats report people sharing a system_id', async () => {
    const a = (
      await call('POST', '/api/3/people', {
        first_name: 'A',
        last_name: 'A',
        email: 'a@x.io',
        system_id: 'S1',
      })
    ).body as Person;
    await call('POST', '/api/3/people', {
      first_name: 'B',
      last_name: 'B',
      email: 'b@x.io',
      system_id: 'S1',
    });
    const clash = await call('PUT', `/api/3/people/${a.id}`, { email: 'B@X.IO' });
    expect(clash.status).toBe(422);
    const same = await call('PUT', `/api/3/people/${a.id}`, { email: 'A@x.io' });
    expect(same.status).toBe(201);
    const stats = sim.stats();
    expect(stats.duplicates).toEqual({ peopleBySystemId: 1, peopleByEmail: 0, liveHidCredentials: 0 });
    expect(stats.duplicateDetails.peopleBySystemId).toEqual([{ key: 'S1', ids: [a.id, a.id + 1] }]);
  });

  it('malformed JSON → 400; unknown /api/3 routes → 404 (after auth); GET /api/3/account', async () => {
    const bad = await fetch(`${sim.url}/api/3/people`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.accessToken}`, 'content-type': 'application/json' },
      body: '{"first_name":',
    });
    expect(bad.status).toBe(400);
    expect((await call('GET', '/api/3/nothing-here')).status).toBe(404);
    expect((await fetch(`${sim.url}/api/3/nothing-here`)).status).toBe(401);
    const account = await call('GET', '/api/3/account');
    expect(account.body).toMatchObject({ passport: { hid_mobile_access: true } });
  });

  it("POST /api/3/sync → 202, then 429 rate_limited with retry_in (the contract's one documented 429)", async () => {
    expect((await call('POST', '/api/3/sync')).status).toBe(202);
    const again = await call('POST', '/api/3/sync');
    expect(again.status).toBe(429);
    expect(again.body).toMatchObject({ error: 'rate_limited', description: expect.any(String) });
    const retryIn = (again.body as { retry_in: number }).retry_in;
    expect(retryIn).toBeGreaterThan(55);
    expect(retryIn).toBeLessThanOrEqual(60);
  });

  it('deleting a person revokes their mobile pass', async () => {
    const p = (await call('POST', '/api/3/people', { first_name: 'A', last_name: 'B' })).body as Person;
    const c = await call('POST', `/api/3/people/${p.id}/credentials`, {
      person_credential: { credential_type_id: 8 },
    });
    expect(c.status).toBe(201);
    await call('DELETE', `/api/3/people/${p.id}`);
    expect(['revoking', 'revoked']).toContain(sim.credentials()[0]?.status);
    expect((await call('GET', `/api/3/people/${p.id}/credentials`)).status).toBe(404);
  });
});
