import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Credential, CredentialType, Person } from '../../src/lib/doorflow/types.ts';
import { type RunningSimulator, startSimulator } from '../../src/simulator/index.ts';

let sim: RunningSimulator;
const HID = 8;

beforeAll(async () => {
  sim = await startSimulator({ admin: true, revokeDelayMs: 30, provisioningDelayMs: 30 });
});
afterAll(() => sim.close());
beforeEach(() => {
  sim.reset();
  sim.configure({
    licenceLimit: 0,
    invitationCodeDelayMs: 0,
    includeInvitationCode: true,
    codeInCreate: false,
    credentialTypesFormat: 'array',
    revokeDelayMs: 30,
  });
  sim.stallProvisioning(false);
});

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${sim.accessToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    type,
    headers: res.headers,
    text,
    body: type.includes('json') && text ? (JSON.parse(text) as unknown) : undefined,
  };
}

async function person(n = 1): Promise<number> {
  const res = await call('POST', '/api/3/people', {
    first_name: `P${n}`,
    last_name: 'X',
    email: `p${n}@example.com`,
  });
  return (res.body as Person).id;
}

async function createHid(personId: number) {
  return call('POST', `/api/3/people/${personId}/credentials`, {
    person_credential: { credential_type_id: HID },
  });
}

/** Polls a credential until `predicate` holds (status changes are timer-driven). */
async function until(
  personId: number,
  id: string,
  predicate: (c: Credential) => boolean,
): Promise<Credential> {
  for (let i = 0; i < 200; i++) {
    const res = await call('GET', `/api/3/people/${personId}/credentials/${id}`);
    if (res.status === 200 && predicate(res.body as Credential)) return res.body as Credential;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition not reached');
}

describe('simulator credential types', () => {
  it('lists Card, PIN and HID Mobile Access as a bare array; the HID id is configurable; wrapped format too', async () => {
    const res = await call('GET', '/api/3/credential_types');
    expect(res.status).toBe(200);
    const types = res.body as CredentialType[];
    expect(types.map((t) => t.label)).toEqual(['Card', 'PIN', 'HID Mobile Access']);
    expect(types.find((t) => t.label === 'HID Mobile Access')?.id).toBe(8);
    sim.configure({ credentialTypesFormat: 'wrapped' });
    const wrapped = await call('GET', '/api/3/credential_types');
    expect(wrapped.body).toMatchObject({ credential_types: [{ name: 'Card' }, { name: 'PIN' }, { id: 8 }] });

    const other = await startSimulator({ hidCredentialTypeId: 14 });
    try {
      const r = await fetch(`${other.url}/api/3/credential_types`, {
        headers: { authorization: 'Bearer sim-token' },
      });
      const list = (await r.json()) as CredentialType[];
      expect(list.find((t) => t.slug === 'hid_mobile_access')?.id).toBe(14);
    } finally {
      await other.close();
    }
  });
});

describe('simulator credentials', () => {
  it('HID create → 201 invited with a hashid, no value and (as the spec has it) no code; the code only on GET of the credential; second → 409 with the existing one', async () => {
    const pid = await person();
    const res = await createHid(pid);
    expect(res.status).toBe(201);
    const cred = res.body as Credential;
    expect(typeof cred.id).toBe('string');
    expect(cred.id).toMatch(/^[A-Za-z0-9]{8,}$/);
    expect(cred).toMatchObject({ status: 'invited', credential_type_id: HID, person_id: pid });
    expect(cred.value).toBeUndefined();
    expect(cred).not.toHaveProperty('invitation_code');
    const one = (await call('GET', `/api/3/people/${pid}/credentials/${cred.id}`)).body as Credential;
    expect(one.invitation_code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    expect(Date.parse(one.invitation_expires_at ?? '')).toBeGreaterThan(Date.now());
    const list = (await call('GET', `/api/3/people/${pid}/credentials`)).body as Credential[];
    expect(list[0]).not.toHaveProperty('invitation_code');
    const account = (await call('GET', '/api/3/credentials')).body as Credential[];
    expect(account[0]).not.toHaveProperty('invitation_code');

    const dup = await createHid(pid);
    expect(dup.status).toBe(409);
    expect((dup.body as Credential).id).toBe(cred.id);
    expect(dup.body).not.toHaveProperty('invitation_code');
    expect(sim.stats().credentials).toEqual({ invited: 1 });
    expect(sim.stats().duplicates.liveHidCredentials).toBe(0);
  });

  it('codeInCreate (the old shortcut) puts the code on create, list and 409 bodies', async () => {
    sim.configure({ codeInCreate: true });
    const pid = await person();
    const cred = (await createHid(pid)).body as Credential;
    expect(cred.invitation_code).toMatch(/^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/);
    expect(Date.parse(cred.invitation_expires_at ?? '')).toBeGreaterThan(Date.now());
    const list = (await call('GET', `/api/3/people/${pid}/credentials`)).body as Credential[];
    expect(list[0]?.invitation_code).toBe(cred.invitation_code);
    expect(((await createHid(pid)).body as Credential).invitation_code).toBe(cred.invitation_code);
  });

  it('unknown type → 422 errors.credential_type_id; unknown person → 404; licence limit → 422 limit_reached string', async () => {
    const pid = await person();
    const unknown = await call('POST', `/api/3/people/${pid}/credentials`, {
      person_credential: { credential_type_id: 77 },
    });
    expect(unknown.status).toBe(422);
    expect(unknown.body).toMatchObject({ errors: { credential_type_id: [expect.any(String)] } });
    expect((await createHid(424242)).status).toBe(404);

    sim.configure({ licenceLimit: 2 });
    expect((await createHid(pid)).status).toBe(201);
    expect((await createHid(await person(2))).status).toBe(201);
    const third = await createHid(await person(3));
    expect(third.status).toBe(422);
    const body = third.body as { error: string; errors: { limit_reached: unknown } };
    expect(typeof body.errors.limit_reached).toBe('string');
    expect(body.errors.limit_reached).toMatch(/licence limit/i);
    expect(sim.stats().credentialsTotal).toBe(2);
  });

  it('invitation_code appears on GET only after invitationCodeDelayMs, and never when switched off', async () => {
    // Long enough that the early GET below comes first even on a loaded machine.
    sim.configure({ invitationCodeDelayMs: 1000 });
    const pid = await person();
    const created = (await createHid(pid)).body as Credential;
    expect(created.invitation_code).toBeUndefined();
    const early = (await call('GET', `/api/3/people/${pid}/credentials/${created.id}`)).body as Credential;
    expect(early.invitation_code).toBeNull();
    const later = await until(pid, created.id, (c) => typeof c.invitation_code === 'string');
    expect(later.invitation_code).toBe(sim.credentials()[0]?.invitation_code);
    expect(later.invitation_expires_at).toEqual(expect.any(String));

    sim.configure({ includeInvitationCode: false, invitationCodeDelayMs: 0 });
    const p2 = await person(2);
    const hidden = (await createHid(p2)).body as Credential;
    expect(hidden.invitation_code).toBeUndefined();
    expect(
      ((await call('GET', `/api/3/people/${p2}/credentials/${hidden.id}`)).body as Credential)
        .invitation_code,
    ).toBe(undefined);
  });

  it('is reachable by its 99xxxxxxxx HID invitation id; DELETE → 202 text/plain, revoking, then revoked', async () => {
    const pid = await person();
    const created = (await createHid(pid)).body as Credential;
    const alias = sim.credentials()[0]?.hid_invitation_id ?? '';
    expect(alias).toMatch(/^99\d{8}$/);
    const byAlias = await call('GET', `/api/3/people/${pid}/credentials/${alias}`);
    expect(byAlias.status).toBe(200);
    expect((byAlias.body as Credential).id).toBe(created.id);

    // Long enough that the GET below sees `revoking` even on a loaded machine.
    sim.configure({ revokeDelayMs: 800 });
    const del = await call('DELETE', `/api/3/people/${pid}/credentials/${alias}`);
    expect(del.status).toBe(202);
    expect(del.type).toMatch(/^text\/plain/);
    const now = (await call('GET', `/api/3/people/${pid}/credentials/${created.id}`)).body as Credential;
    expect(now.status).toBe('revoking');
    await until(pid, created.id, (c) => c.status === 'revoked');
    // A revoked pass frees the slot: a new one can be created.
    expect((await createHid(pid)).status).toBe(201);
    expect((await call('DELETE', `/api/3/people/${pid}/credentials/${created.id}`)).status).toBe(404);
  });

  it('value types: Card needs a value, PIN "******" auto-generates, duplicates 422, DELETE → 200 then 404, PUT → 201', async () => {
    const pid = await person();
    const blank = await call('POST', `/api/3/people/${pid}/credentials`, {
      person_credential: { credential_type_id: 1 },
    });
    expect(blank.status).toBe(422);
    expect(blank.body).toMatchObject({ errors: { value: [expect.any(String)] } });
    const card = await call('POST', `/api/3/people/${pid}/credentials`, {
      person_credential: { credential_type_id: 1, value: '12345678' },
    });
    expect(card.status).toBe(201);
    expect(card.body).toMatchObject({ value: '12345678', credential_type_id: 1 });
    const pin = await call('POST', `/api/3/people/${pid}/credentials`, {
      person_credential: { credential_type_id: 2, value: '******' },
    });
    expect((pin.body as Credential).value).toMatch(/^\d{4,7}$/);
    const p2 = await person(2);
    const taken = await call('POST', `/api/3/people/${p2}/credentials`, {
      person_credential: { credential_type_id: 1, value: '12345678' },
    });
    expect(taken.status).toBe(422);
    const badPin = await call('POST', `/api/3/people/${p2}/credentials`, {
      person_credential: { credential_type_id: 2, value: '12' },
    });
    expect(badPin.status).toBe(422);

    const cardId = (card.body as Credential).id;
    const put = await call('PUT', `/api/3/people/${pid}/credentials/${cardId}`, {
      person_credential: { value: '999' },
    });
    expect(put.status).toBe(201);
    expect((put.body as Credential).value).toBe('999');
    const del = await call('DELETE', `/api/3/people/${pid}/credentials/${cardId}`);
    expect(del.status).toBe(200);
    expect(del.type).toMatch(/^text\/plain/);
    expect((await call('GET', `/api/3/people/${pid}/credentials/${cardId}`)).status).toBe(404);
    expect((await call('PUT', `/api/3/people/${pid}/credentials/${cardId}`, { value: '1' })).status).toBe(
      404,
    );
  });

  it("lists a person's credentials and the account's, paginated (default 500) with Total", async () => {
    const pids: number[] = [];
    for (let i = 0; i < 12; i++) pids.push(await person(i));
    for (const pid of pids) await createHid(pid);
    await call('POST', `/api/3/people/${pids[0]}/credentials`, {
      person_credential: { credential_type_id: 1, value: 'c1' },
    });
    const mine = await call('GET', `/api/3/people/${pids[0]}/credentials`);
    expect(mine.status).toBe(200);
    expect((mine.body as Credential[]).map((c) => c.credential_type_id).sort()).toEqual([1, 8]);
    const all = await call('GET', '/api/3/credentials');
    expect(all.headers.get('total')).toBe('13');
    expect(all.headers.get('per-page')).toBe('500');
    expect((all.body as Credential[]).length).toBe(13);
    const page2 = await call('GET', '/api/3/credentials?per_page=5&page=3');
    expect((page2.body as Credential[]).length).toBe(3);
    expect((await call('GET', '/api/3/people/987654/credentials')).status).toBe(404);
    // A credential of another person is not reachable under this one.
    const other = (all.body as Credential[]).find((c) => c.person_id !== pids[0]);
    expect((await call('GET', `/api/3/people/${pids[0]}/credentials/${other?.id}`)).status).toBe(404);
  });
});

describe('simulator lifecycle hooks', () => {
  it('accept by code → provisioning → active; stall holds provisioning; expire ends invitations', async () => {
    const pid = await person();
    const cred = (await createHid(pid)).body as Credential;
    const code = sim.credentials()[0]?.invitation_code ?? '';
    sim.stallProvisioning(true);
    const accepted = sim.acceptInvitation(code);
    expect(accepted.ok).toBe(true);
    expect(
      ((await call('GET', `/api/3/people/${pid}/credentials/${cred.id}`)).body as Credential).status,
    ).toBe('provisioning');
    await new Promise((r) => setTimeout(r, 100));
    expect(sim.credentials()[0]?.status).toBe('provisioning');
    sim.stallProvisioning(false);
    await until(pid, cred.id, (c) => c.status === 'active');
    expect(sim.acceptInvitation(code)).toMatchObject({ ok: false });
    expect(sim.acceptInvitation('AAAA-BBBB-CCCC-DDDD')).toEqual({ ok: false, reason: 'not_found' });

    const p2 = await person(2);
    const c2 = (await createHid(p2)).body as Credential;
    expect(sim.expireInvitations()).toBe(1);
    const expired = (await call('GET', `/api/3/people/${p2}/credentials/${c2.id}`)).body as Credential;
    expect(expired.status).toBe('expired');
    expect(expired.invitation_code).toBeUndefined();
    expect(sim.stats().credentials).toEqual({ active: 1, expired: 1 });
  });

  it('an invitation left alone expires by itself at invitation_expires_at', async () => {
    sim.configure({ invitationTtlSec: 1 });
    try {
      const pid = await person();
      const created = (await createHid(pid)).body as Credential;
      const cred = (await call('GET', `/api/3/people/${pid}/credentials/${created.id}`)).body as Credential;
      expect(Date.parse(cred.invitation_expires_at ?? '') - Date.now()).toBeLessThanOrEqual(1000);
      const expired = await until(pid, cred.id, (c) => c.status === 'expired');
      expect(expired.invitation_code).toBeUndefined();
    } finally {
      sim.configure({ invitationTtlSec: 30 * 86_400 });
    }
  });

  it('the same hooks over HTTP under /__sim', async () => {
    const pid = await person();
    const cred = (await createHid(pid)).body as Credential;
    const code =
      (await until(pid, cred.id, (c) => typeof c.invitation_code === 'string')).invitation_code ?? '';
    const post = (path: string, body: unknown) =>
      fetch(`${sim.url}/__sim${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await (await post('/provisioning/stall', { on: true })).json()) as unknown).toEqual({
      stalled: true,
    });
    const accept = await post('/invitations/accept', { code });
    expect(accept.status).toBe(200);
    expect(await accept.json()).toMatchObject({ id: cred.id, status: 'provisioning' });
    expect((await post('/invitations/accept', { code: 'NOPE-NOPE-NOPE-NOPE' })).status).toBe(404);
    await post('/provisioning/stall', { on: false });
    await until(pid, cred.id, (c) => c.status === 'active');

    const c2 = (await createHid(await person(2))).body as Credential;
    const expire = await post('/invitations/expire', { credential_ids: [c2.id] });
    expect(await expire.json()).toEqual({ expired: 1 });
    const listed = (await (await fetch(`${sim.url}/__sim/credentials`)).json()) as { status: string }[];
    expect(listed.map((c) => c.status).sort()).toEqual(['active', 'expired']);
  });
});

describe('simulator clock', () => {
  it('runs on the clock it is given: a moved clock moves invitation_expires_at with it (the soak moves it a day a night)', async () => {
    const DAY = 86_400_000;
    let nowMs = Date.UTC(2031, 0, 1);
    const moved = await startSimulator({ now: () => nowMs });
    try {
      const headers = { authorization: `Bearer ${moved.accessToken}`, 'content-type': 'application/json' };
      const post = async (path: string, body: unknown) =>
        (await fetch(`${moved.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) })).json();
      const issue = async (n: number) => {
        const p = (await post('/api/3/people', {
          first_name: `C${n}`,
          last_name: 'X',
          email: `c${n}@example.com`,
        })) as Person;
        const c = (await post(`/api/3/people/${p.id}/credentials`, {
          person_credential: { credential_type_id: HID },
        })) as Credential;
        const res = await fetch(`${moved.url}/api/3/people/${p.id}/credentials/${c.id}`, { headers });
        return Date.parse(((await res.json()) as Credential).invitation_expires_at ?? '');
      };
      // 30 days (the simulator's invitation validity) from the given clock, not from the machine's.
      expect(await issue(1)).toBe(nowMs + 30 * DAY);
      nowMs += 40 * DAY;
      expect(await issue(2)).toBe(nowMs + 30 * DAY);
    } finally {
      await moved.close();
    }
  });
});
