import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAndWait, runCli, type ServeChild, spawnServe, spawnWorker } from '../helpers/cli.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';
import { ENTERPRISE, patchOf, SCIM_TEST_TOKEN, type ScimClient, scimClient, USER } from '../helpers/scim.ts';

/**
 * The request sequences Okta and Entra send, replayed against a real `serve` and `worker` and the
 * simulator; every request is sent twice (the IdPs retry), and the simulator must show each
 * person once, with one HID credential and one invitation per pass, updated, then offboarded.
 *
 * Okta (developer.okta.com, "SCIM 2.0 protocol reference"): test connection
 * `GET /Users?startIndex=1&count=1`, `GET /Users?filter=userName eq "…"`, `POST /Users`,
 * `GET /Users/{id}`, `PUT /Users/{id}` (profile change), `PUT` with `active: false`.
 * Entra (learn.microsoft.com, "Tutorial: Develop and plan provisioning for a SCIM endpoint"):
 * `GET /Users?filter=userName eq "…"`, `POST /Users`, `PATCH` with `Replace` and `"False"`,
 * `PATCH` active back to `"True"`, `DELETE /Users/{id}`.
 */
describe('cli: serve + worker: SCIM from Okta and Entra', () => {
  let h: Harness;
  let serve: ServeChild;
  let worker: ChildProcess;
  let scim: ScimClient;

  beforeAll(async () => {
    h = await startHarness({
      env: {
        SCIM_TOKEN: SCIM_TEST_TOKEN,
        SCIM_BURST_WINDOW: '500ms',
        DELIVERY_DEFAULT: 'doorflow',
        WEBHOOK_SECRET: 'scim-e2e-webhook-secret-0c2f7d9a41b86e35a7d0c9e2',
        LOG_LEVEL: 'warn',
      },
    });
    [serve, worker] = await Promise.all([spawnServe(['--insecure-local'], h.env), spawnWorker(h.env)]);
    scim = scimClient(`${serve.url}/scim/v2`);
  });
  afterAll(async () => {
    await Promise.all([
      serve && killAndWait(serve.child, 'SIGTERM'),
      worker && killAndWait(worker, 'SIGTERM'),
    ]);
    await h?.close();
  });

  /** Sends a request twice, as an IdP retrying after a lost response does; returns both replies. */
  const twice = async <T>(send: () => Promise<T>): Promise<[T, T]> => [await send(), await send()];

  const until = async (what: string, check: () => boolean, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const personBy = (systemId: string) => h.sim.people().filter((p) => p.system_id === systemId);
  const hidOf = (personId: number) =>
    h.sim.credentials().filter((c) => c.person_id === personId && c.hid_invitation_id !== null);
  const mailsOf = (personId: number) => h.sim.outbox().filter((m) => m.person_id === personId);
  /** Offboarded: disabled, every HID credential revoked. */
  const offboarded = (systemId: string) => () => {
    const [p] = personBy(systemId);
    return p?.enabled === false && hidOf(p.id).every((c) => c.status === 'revoked');
  };
  /** Exactly one person for the system id, with `passes` HID credentials and as many invitation mails. */
  const expectOnce = (systemId: string, passes: number) => {
    const people = personBy(systemId);
    expect(people).toHaveLength(1);
    expect(hidOf(people[0]?.id ?? 0)).toHaveLength(passes);
    expect(mailsOf(people[0]?.id ?? 0)).toHaveLength(passes);
  };

  it('Okta: test connection, filter, POST, GET, PUT, PUT active:false', async () => {
    for (const r of await twice(() => scim.get('/Users?startIndex=1&count=1'))) expect(r.status).toBe(200);
    const filter = `/Users?filter=${encodeURIComponent('userName eq "okta.ada@example.test"')}`;
    for (const r of await twice(() => scim.get(filter))) expect(r.body.totalResults).toBe(0);

    const user = {
      schemas: [USER],
      userName: 'okta.ada@example.test',
      externalId: 'OKTA-1',
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      emails: [{ primary: true, value: 'okta.ada@example.test', type: 'work' }],
      active: true,
    };
    const [created, retried] = await twice(() => scim.post('/Users', user));
    expect(created.status).toBe(201);
    expect(retried.status).toBe(409);
    expect(retried.body.scimType).toBe('uniqueness');
    const id = created.body.id as string;
    for (const r of await twice(() => scim.get(`/Users/${id}`))) expect(r.body.userName).toBe(user.userName);
    for (const r of await twice(() => scim.get(filter))) expect(r.body.Resources[0].id).toBe(id);

    await until('the person with a pass', () => {
      const [p] = personBy('OKTA-1');
      return p !== undefined && hidOf(p.id).length === 1 && mailsOf(p.id).length === 1;
    });
    // Read back from our store (no DoorFlow call): once settled, the pass is known as invited.
    const passOf = async () =>
      (await scim.get(`/Users/${id}`)).body[
        'urn:doorflow-provisioner:params:scim:schemas:extension:2.0:User'
      ];
    const deadline = Date.now() + 20_000;
    let pass = await passOf();
    while (!(pass.pending === false && pass.passStatus === 'invited') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      pass = await passOf();
    }
    expect(pass).toEqual({ passStatus: 'invited', pending: false });

    const renamed = { ...user, name: { givenName: 'Augusta', familyName: 'Lovelace' } };
    for (const r of await twice(() => scim.put(`/Users/${id}`, renamed))) expect(r.status).toBe(200);
    await until('the rename', () => personBy('OKTA-1')[0]?.first_name === 'Augusta');

    for (const r of await twice(() => scim.put(`/Users/${id}`, { ...renamed, active: false }))) {
      expect(r.status).toBe(200);
      expect(r.body.active).toBe(false);
    }
    await until('the offboarding', offboarded('OKTA-1'));
    expectOnce('OKTA-1', 1);
  });

  it('Entra: filter, POST, PATCH Replace, PATCH "False", PATCH "True", DELETE', async () => {
    const filter = `/Users?filter=${encodeURIComponent('userName eq "grace@contoso.test"')}`;
    for (const r of await twice(() => scim.get(filter))) expect(r.body).toMatchObject({ totalResults: 0 });
    const user = {
      schemas: [USER, ENTERPRISE],
      externalId: 'grace',
      userName: 'grace@contoso.test',
      active: true,
      displayName: 'Grace Hopper',
      emails: [{ primary: true, type: 'work', value: 'grace@contoso.test' }],
      name: { formatted: 'Grace Hopper', familyName: 'Hopper', givenName: 'Grace' },
      phoneNumbers: [{ type: 'mobile', value: '+447700900456' }],
      [ENTERPRISE]: { employeeNumber: '1701', department: 'Navy' },
    };
    const [created, retried] = await twice(() => scim.post('/Users', user));
    expect(created.status).toBe(201);
    expect(retried.status).toBe(409);
    const id = created.body.id as string;
    await until('the person with a pass', () => {
      const [p] = personBy('grace');
      return p !== undefined && hidOf(p.id).length === 1 && mailsOf(p.id).length === 1;
    });
    expect(personBy('grace')[0]).toMatchObject({ mobile: '+447700900456', department: 'Navy' });

    const rename = patchOf(
      { op: 'Replace', path: 'name.givenName', value: 'Amazing Grace' },
      { op: 'Replace', path: `${ENTERPRISE}:department`, value: 'Computing' },
    );
    for (const r of await twice(() => scim.patch(`/Users/${id}`, rename))) expect(r.status).toBe(200);
    await until('the update', () => personBy('grace')[0]?.department === 'Computing');
    expect(personBy('grace')[0]?.first_name).toBe('Amazing Grace');

    const off = patchOf({ op: 'Replace', path: 'active', value: 'False' });
    for (const r of await twice(() => scim.patch(`/Users/${id}`, off))) expect(r.body.active).toBe(false);
    await until('the offboarding', offboarded('grace'));

    const on = patchOf({ op: 'Replace', path: 'active', value: 'True' });
    for (const r of await twice(() => scim.patch(`/Users/${id}`, on))) expect(r.body.active).toBe(true);
    await until('the return with a new pass', () => {
      const [p] = personBy('grace');
      return p?.enabled === true && hidOf(p.id).filter((c) => c.status !== 'revoked').length === 1;
    });

    const [deleted, again] = await twice(() => scim.delete(`/Users/${id}`));
    expect(deleted.status).toBe(204);
    expect(again.status).toBe(404);
    expect((await scim.get(`/Users/${id}`)).status).toBe(404);
    await until('the offboarding after DELETE', offboarded('grace'));
    // Two passes in all (the first, revoked; the returner's, revoked by the DELETE), one mail each.
    expectOnce('grace', 2);
  });

  it('without SCIM_TOKEN, serve has no SCIM endpoint (404)', async () => {
    const { SCIM_TOKEN: _t, ...env } = h.env;
    const plain = await spawnServe(['--insecure-local'], env);
    try {
      const r = await scimClient(`${plain.url}/scim/v2`).get('/ServiceProviderConfig');
      expect(r.status).toBe(404);
    } finally {
      await killAndWait(plain.child, 'SIGTERM');
    }
  });

  it('every SCIM change went through runs of source scim', async () => {
    const runs = await h.pipeline.runs.list(50);
    expect(runs.length).toBeGreaterThan(0);
    expect(runs.every((r) => r.source === 'scim')).toBe(true);
  });

  it('a deactivation burst over the threshold is quarantined; approve offboards exactly it, reject writes nothing', async () => {
    // 26 deactivations against the default threshold of 25 (the population is under 500).
    const burstOf = async (tag: string) => {
      const ids: string[] = [];
      for (let n = 0; n < 26; n++) {
        const userName = `burst.${tag}${n}@example.test`;
        const user = {
          schemas: [USER],
          userName,
          externalId: `B${tag}${n}`,
          name: { givenName: 'B', familyName: `${tag}${n}` },
          emails: [{ primary: true, value: userName }],
          active: true,
        };
        ids.push((await scim.post('/Users', user)).body.id as string);
      }
      await until(
        'the burst users with passes',
        () =>
          ids.every((_, n) => {
            const [p] = personBy(`B${tag}${n}`);
            return p !== undefined && hidOf(p.id).length === 1;
          }),
        60_000,
      );
      await new Promise((r) => setTimeout(r, 700)); // the creating burst ends
      const replies = [];
      for (const id of ids)
        replies.push(
          await scim.patch(`/Users/${id}`, patchOf({ op: 'Replace', path: 'active', value: 'False' })),
        );
      expect(replies.slice(0, 25).map((r) => r.status)).toEqual(Array(25).fill(200));
      expect(replies[25]?.status).toBe(403);
      const listed = JSON.parse((await runCli(['sync', 'plans', '--json'], h.env)).stdout) as {
        id: string;
        sourceName: string;
        plan: { offboard: { key: string }[] };
      }[];
      const plan = listed.find((p) => p.sourceName === 'scim');
      expect(plan?.plan.offboard).toHaveLength(26);
      expect(replies[25]?.body.detail).toContain(`quarantined plan ${plan?.id}`);
      return { ids, planId: plan?.id ?? '' };
    };

    const approved = await burstOf('a');
    expect((await runCli(['sync', 'approve', approved.planId], h.env)).code).toBe(0);
    await until(
      'the approved offboarding',
      () => Array.from({ length: 26 }, (_, n) => offboarded(`Ba${n}`)()).every(Boolean),
      60_000,
    );
    expect((await scim.get(`/Users/${approved.ids[25]}`)).body.active).toBe(false);

    const rejected = await burstOf('r');
    const writes = h.sim.stats().writeCount;
    expect((await runCli(['sync', 'reject', rejected.planId], h.env)).code).toBe(0);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(h.sim.stats().writeCount).toBe(writes);
    expect(personBy('Br25')[0]?.enabled).not.toBe(false);
    expect((await scim.get(`/Users/${rejected.ids[25]}`)).body.active).toBe(true);
  }, 150_000);
});
