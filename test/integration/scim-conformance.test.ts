import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scimModule } from '../../src/app/scim.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { purgeInactiveScimUsers, ScimUserStore } from '../../src/lib/store/scim-users.ts';
import { buildServer, type RunningServer } from '../../src/server/app.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';
import {
  ENTERPRISE,
  ERROR,
  LIST,
  patchOf,
  SCIM_TEST_TOKEN,
  type ScimClient,
  scimClient,
  scimUser,
  USER,
} from '../helpers/scim.ts';

/**
 * SCIM conformance, case by case from RFC 7643/7644 and the checks Microsoft's SCIM validator and
 * Okta's SCIM test plan make: discovery documents, authentication, `application/scim+json`,
 * create/read/replace/patch/delete, filters (`userName eq`, `externalId eq`,
 * `emails[type eq "work"].value eq`, `and`), paging, every PATCH form Entra sends, error bodies
 * with `scimType`. No worker runs: this is the protocol; the pipeline is scim-okta/entra e2e.
 */
describe('scim: conformance (RFC 7643/7644, Entra validator, Okta test plan)', () => {
  let h: Harness;
  let server: RunningServer;
  let scim: ScimClient;
  let base: string;

  beforeAll(async () => {
    h = await startHarness({ env: { SCIM_TOKEN: SCIM_TEST_TOKEN, SCIM_BURST_WINDOW: '30s' } });
    const module = scimModule(h.pipeline);
    if (!module) throw new Error('scim module not built');
    server = await buildServer({ logger: silentLogger(), modules: [module] }).start(0, '127.0.0.1');
    base = `${server.url}/scim/v2`;
    scim = scimClient(base);
  });
  afterAll(async () => {
    await server?.close();
    await h?.close();
  });

  /** The pipeline settled the user's last change (no worker runs here): ends its run entry. */
  const settle = async (id: string) => {
    const key = h.config.encryptionKey;
    if (!key) throw new Error('no key');
    const record = await new ScimUserStore(h.pipeline.redis, h.pipeline.keys, key).get(id);
    if (record?.runId) await h.pipeline.runs.move(record.runId, record.key, 'provisioned');
  };

  const expectError = (reply: { status: number; body: unknown }, status: number, scimType?: string) => {
    expect(reply.status).toBe(status);
    // RFC 7644 §3.12: the error schema, status as a string, scimType where the table has one.
    expect(reply.body).toMatchObject({ schemas: [ERROR], status: String(status) });
    if (scimType) expect((reply.body as { scimType?: string }).scimType).toBe(scimType);
  };

  describe('discovery (RFC 7644 §4)', () => {
    it('ServiceProviderConfig declares patch and filter, no bulk, sort, etag or password change', async () => {
      const r = await scim.get('/ServiceProviderConfig');
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^application\/scim\+json/);
      expect(r.body.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig']);
      expect(r.body.patch).toEqual({ supported: true });
      expect(r.body.filter.supported).toBe(true);
      expect(r.body.filter.maxResults).toBeGreaterThan(0);
      expect(r.body.bulk.supported).toBe(false);
      expect(r.body.sort.supported).toBe(false);
      expect(r.body.etag.supported).toBe(false);
      expect(r.body.changePassword.supported).toBe(false);
      expect(r.body.authenticationSchemes[0].type).toBe('oauthbearertoken');
    });

    it('ResourceTypes lists User at /Users with the enterprise extension', async () => {
      const r = await scim.get('/ResourceTypes');
      expect(r.status).toBe(200);
      expect(r.body.schemas).toEqual([LIST]);
      const user = r.body.Resources.find((t: { id: string }) => t.id === 'User');
      expect(user).toMatchObject({ name: 'User', endpoint: '/Users', schema: USER });
      expect(user.schemaExtensions).toContainEqual({ schema: ENTERPRISE, required: false });
      expect(r.body.Resources.some((t: { id: string }) => t.id === 'Group')).toBe(false);
      expect((await scim.get('/ResourceTypes/User')).body.endpoint).toBe('/Users');
      expectError(await scim.get('/ResourceTypes/Nope'), 404);
    });

    it('Schemas has the core User (userName required, unique) and the enterprise extension', async () => {
      const r = await scim.get('/Schemas');
      expect(r.status).toBe(200);
      const ids = r.body.Resources.map((s: { id: string }) => s.id);
      expect(ids).toEqual(expect.arrayContaining([USER, ENTERPRISE]));
      const core = (await scim.get(`/Schemas/${USER}`)).body;
      const userName = core.attributes.find((a: { name: string }) => a.name === 'userName');
      expect(userName).toMatchObject({
        required: true,
        uniqueness: 'server',
        caseExact: false,
        type: 'string',
      });
      for (const attribute of core.attributes) {
        expect(attribute).toHaveProperty('mutability');
        expect(attribute).toHaveProperty('returned');
      }
      const enterprise = (await scim.get(`/Schemas/${ENTERPRISE}`)).body;
      expect(enterprise.attributes.map((a: { name: string }) => a.name)).toContain('employeeNumber');
      expectError(await scim.get('/Schemas/urn:nope'), 404);
    });
  });

  describe('authentication (RFC 7644 §2)', () => {
    it('refuses a missing or wrong bearer token with 401 and a SCIM error', async () => {
      expectError(await scimClient(base, '').get('/Users'), 401);
      const wrong = await scimClient(base, `${SCIM_TEST_TOKEN}x`).get('/Users');
      expectError(wrong, 401);
      expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer/);
    });
  });

  describe('Users: create and read (RFC 7644 §3.3, §3.4.1)', () => {
    let id: string;

    it('POST creates: 201, Location, id, meta, the attributes sent, and the pass not reported issued', async () => {
      const r = await scim.post('/Users', scimUser(1));
      expect(r.status).toBe(201);
      expect(r.headers.get('content-type')).toMatch(/^application\/scim\+json/);
      id = r.body.id;
      expect(typeof id).toBe('string');
      expect(r.headers.get('location')).toBe(`${base}/Users/${id}`);
      expect(r.body.userName).toBe('user1@example.test');
      expect(r.body.name).toEqual({ givenName: 'Given1', familyName: 'Family1' });
      expect(r.body.active).toBe(true);
      expect(r.body.schemas).toContain(USER);
      expect(r.body.meta).toMatchObject({ resourceType: 'User', location: `${base}/Users/${id}` });
      expect(Date.parse(r.body.meta.created)).not.toBeNaN();
      expect(r.body.meta.lastModified).toBe(r.body.meta.created);
      // No worker runs: the person is queued, and no pass is issued yet.
      const pass = r.body['urn:doorflow-provisioner:params:scim:schemas:extension:2.0:User'];
      expect(pass).toEqual({ passStatus: 'pending', pending: true });
    });

    it('GET by id returns the same resource; an unknown id is 404', async () => {
      const r = await scim.get(`/Users/${id}`);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ id, userName: 'user1@example.test', externalId: 'X1' });
      expectError(await scim.get('/Users/00000000-0000-0000-0000-000000000000'), 404);
    });

    it('a duplicate userName (any case) is 409 uniqueness, and nothing new is queued', async () => {
      const before = await h.pipeline.queues.get('person').count();
      expectError(
        await scim.post('/Users', scimUser(1, { userName: 'USER1@example.test' })),
        409,
        'uniqueness',
      );
      expect(await h.pipeline.queues.get('person').count()).toBe(before);
    });

    it('refuses a body without userName, with unusable fields, or not JSON (400)', async () => {
      const { userName: _u, ...noName } = scimUser(2);
      expectError(await scim.post('/Users', noName), 400, 'invalidValue');
      expectError(await scim.post('/Users', scimUser(3, { name: {} })), 400, 'invalidValue');
      expectError(await scim.postRaw('/Users', '{"userName": '), 400, 'invalidSyntax');
    });

    it('stores the records encrypted: no name or email in Redis in clear', async () => {
      const sealed = await h.pipeline.redis.hvals(h.pipeline.keys.scimUsers);
      expect(sealed.length).toBeGreaterThan(0);
      for (const value of sealed) {
        expect(value).not.toMatch(/user1|Given1|Family1/);
      }
      const names = await h.pipeline.redis.hkeys(h.pipeline.keys.scimUserNames);
      expect(names.join()).not.toMatch(/user1/);
    });
  });

  describe('Users: filter and paging (RFC 7644 §3.4.2)', () => {
    beforeAll(async () => {
      for (let n = 10; n < 15; n++) expect((await scim.post('/Users', scimUser(n))).status).toBe(201);
    });

    const list = async (query: string) => {
      const r = await scim.get(`/Users?${query}`);
      expect(r.status).toBe(200);
      expect(r.body.schemas).toEqual([LIST]);
      return r.body;
    };

    it('userName eq matches case-insensitively (caseExact false); no match is an empty list', async () => {
      const hit = await list(`filter=${encodeURIComponent('userName eq "USER12@example.test"')}`);
      expect(hit.totalResults).toBe(1);
      expect(hit.Resources[0].userName).toBe('user12@example.test');
      const miss = await list(`filter=${encodeURIComponent('userName eq "nobody@example.test"')}`);
      expect(miss).toMatchObject({ totalResults: 0, Resources: [] });
    });

    it('externalId eq (case-exact), emails[type eq "work"].value eq, and `and`', async () => {
      expect((await list(`filter=${encodeURIComponent('externalId eq "X13"')}`)).totalResults).toBe(1);
      expect((await list(`filter=${encodeURIComponent('externalId eq "x13"')}`)).totalResults).toBe(0);
      const byEmail = await list(
        `filter=${encodeURIComponent('emails[type eq "work"].value eq "user14@example.test"')}`,
      );
      expect(byEmail.Resources.map((u: { externalId: string }) => u.externalId)).toEqual(['X14']);
      const both = `userName eq "user10@example.test" and externalId eq "X10"`;
      expect((await list(`filter=${encodeURIComponent(both)}`)).totalResults).toBe(1);
      const neither = `userName eq "user10@example.test" and externalId eq "X11"`;
      expect((await list(`filter=${encodeURIComponent(neither)}`)).totalResults).toBe(0);
    });

    it('an invalid filter is 400 invalidFilter', async () => {
      expectError(await scim.get(`/Users?filter=${encodeURIComponent('userName eq')}`), 400, 'invalidFilter');
    });

    it('startIndex/count page a stable order, totalResults counts all; Okta test connection', async () => {
      const all = await list('');
      const total = all.totalResults;
      expect(total).toBeGreaterThanOrEqual(6);
      const okta = await list('startIndex=1&count=1');
      expect(okta).toMatchObject({ totalResults: total, startIndex: 1, itemsPerPage: 1 });
      expect(okta.Resources).toHaveLength(1);
      const second = await list('startIndex=3&count=2');
      expect(second.startIndex).toBe(3);
      expect(second.Resources.map((u: { id: string }) => u.id)).toEqual(
        all.Resources.slice(2, 4).map((u: { id: string }) => u.id),
      );
      // §3.4.2.4: count=0 returns no resources, only totalResults; startIndex < 1 is 1.
      expect(await list('count=0')).toMatchObject({ totalResults: total, Resources: [] });
      expect((await list('startIndex=0&count=1')).startIndex).toBe(1);
      expect((await list(`startIndex=${total + 1}`)).Resources).toEqual([]);
    });

    it('POST /Users/.search filters like GET', async () => {
      const r = await scim.post('/Users/.search', {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
        filter: 'userName eq "user11@example.test"',
      });
      expect(r.status).toBe(200);
      expect(r.body.totalResults).toBe(1);
    });
  });

  describe('Users: replace and PATCH (RFC 7644 §3.5)', () => {
    let id: string;
    const path = () => `/Users/${id}`;

    beforeAll(async () => {
      id = (await scim.post('/Users', scimUser(20))).body.id;
    });

    it('PUT replaces the resource; lastModified moves on, created stays', async () => {
      const before = (await scim.get(path())).body;
      await new Promise((r) => setTimeout(r, 5));
      const r = await scim.put(
        path(),
        scimUser(20, { name: { givenName: 'Renamed', familyName: 'Family20' } }),
      );
      expect(r.status).toBe(200);
      expect(r.body.name.givenName).toBe('Renamed');
      expect(r.body.meta.created).toBe(before.meta.created);
      expect(Date.parse(r.body.meta.lastModified)).toBeGreaterThan(Date.parse(before.meta.created));
      expectError(await scim.put('/Users/nope', scimUser(20)), 404);
      // A rename onto another user's userName is a uniqueness conflict.
      expectError(
        await scim.put(path(), scimUser(20, { userName: 'user10@example.test' })),
        409,
        'uniqueness',
      );
    });

    it('replace name.givenName, with Entra\'s capitalised "Replace" too', async () => {
      let r = await scim.patch(path(), patchOf({ op: 'replace', path: 'name.givenName', value: 'Ada' }));
      expect(r.status).toBe(200);
      expect(r.body.name.givenName).toBe('Ada');
      r = await scim.patch(path(), patchOf({ op: 'Replace', path: 'name.familyName', value: 'Lovelace' }));
      expect(r.body.name).toEqual({ givenName: 'Ada', familyName: 'Lovelace' });
    });

    it('emails[type eq "work"].value and the enterprise employeeNumber by path', async () => {
      let r = await scim.patch(
        path(),
        patchOf({ op: 'replace', path: 'emails[type eq "work"].value', value: 'ada@example.test' }),
      );
      expect(r.body.emails).toEqual([{ primary: true, value: 'ada@example.test', type: 'work' }]);
      r = await scim.patch(
        path(),
        patchOf({ op: 'add', path: `${ENTERPRISE}:employeeNumber`, value: 'E20' }),
      );
      expect(r.body[ENTERPRISE]).toEqual({ employeeNumber: 'E20' });
      expect(r.body.schemas).toContain(ENTERPRISE);
    });

    it('a value object without a path (Entra, Okta), by attribute path and by extension URN', async () => {
      let r = await scim.patch(
        path(),
        patchOf({ op: 'replace', value: { displayName: 'Ada L', 'name.givenName': 'Augusta' } }),
      );
      expect(r.body.displayName).toBe('Ada L');
      expect(r.body.name.givenName).toBe('Augusta');
      r = await scim.patch(path(), patchOf({ op: 'Add', value: { [ENTERPRISE]: { department: 'Maths' } } }));
      expect(r.body[ENTERPRISE]).toEqual({ employeeNumber: 'E20', department: 'Maths' });
    });

    it('add a multi-valued entry, then remove by path', async () => {
      let r = await scim.patch(
        path(),
        patchOf({ op: 'add', path: 'phoneNumbers', value: [{ type: 'mobile', value: '+447700900123' }] }),
      );
      expect(r.body.phoneNumbers).toEqual([{ type: 'mobile', value: '+447700900123' }]);
      r = await scim.patch(path(), patchOf({ op: 'remove', path: 'displayName' }));
      expect(r.body).not.toHaveProperty('displayName');
    });

    it('a deactivation while the create is still on its way is a 503 with Retry-After, nothing changed', async () => {
      const r = await scim.patch(path(), patchOf({ op: 'Replace', path: 'active', value: 'False' }));
      expectError(r, 503);
      expect(r.headers.get('retry-after')).toBe('5');
      expect((await scim.get(path())).body.active).toBe(true);
    });

    it('"active": "False" as a string, by path and in a value object, reads back as a boolean', async () => {
      await settle(id);
      let r = await scim.patch(path(), patchOf({ op: 'Replace', path: 'active', value: 'False' }));
      expect(r.status).toBe(200);
      expect(r.body.active).toBe(false);
      r = await scim.patch(path(), patchOf({ op: 'replace', value: { active: 'True' } }));
      expect(r.body.active).toBe(true);
      await settle(id);
      r = await scim.patch(path(), patchOf({ op: 'replace', value: { active: false } }));
      expect(r.body.active).toBe(false);
      expect((await scim.get(path())).body.active).toBe(false);
    });

    it('refuses: remove without path (noTarget), an unknown op, no PatchOp schema, id (mutability)', async () => {
      expectError(await scim.patch(path(), patchOf({ op: 'remove' })), 400, 'noTarget');
      expectError(
        await scim.patch(path(), patchOf({ op: 'merge', path: 'title', value: 'x' })),
        400,
        'invalidSyntax',
      );
      expectError(
        await scim.patch(path(), { schemas: [USER], Operations: [{ op: 'add', path: 'title', value: 'x' }] }),
        400,
        'invalidSyntax',
      );
      expectError(
        await scim.patch(path(), patchOf({ op: 'replace', path: 'id', value: 'x' })),
        400,
        'mutability',
      );
      expectError(await scim.patch('/Users/nope', patchOf({ op: 'remove', path: 'title' })), 404);
    });
  });

  describe('Users: delete (RFC 7644 §3.6), Groups', () => {
    it('DELETE is 204; the user is gone (404) and its userName is free again', async () => {
      const { id } = (await scim.post('/Users', scimUser(30))).body;
      await settle(id);
      const r = await scim.delete(`/Users/${id}`);
      expect(r.status).toBe(204);
      expect(r.body).toBeUndefined();
      expectError(await scim.get(`/Users/${id}`), 404);
      expectError(await scim.delete(`/Users/${id}`), 404);
      expect((await scim.post('/Users', scimUser(30))).status).toBe(201);
    });

    it('Groups and Bulk, declared unsupported, answer 501 with a SCIM error body', async () => {
      expectError(await scim.get('/Groups'), 501);
      expectError(await scim.get('/Groups/abc'), 501);
      expectError(await scim.post('/Bulk', {}), 501);
      expectError(await scim.get('/Nothing'), 404);
    });
  });

  describe('deactivation bursts over the sync safety threshold', () => {
    it('quarantines the burst as one plan: 403 naming it, every held offboard withdrawn, retries reuse it', async () => {
      // 30 users the pipeline settled (mapped to DoorFlow people); the default threshold is 25.
      const ids: string[] = [];
      for (let n = 100; n < 130; n++) {
        const created = (await scim.post('/Users', scimUser(n))).body;
        ids.push(created.id);
        await h.pipeline.people.remember(`sid:X${n}`, { id: 5000 + n });
      }
      const offboard = h.pipeline.queues.get('offboard');
      const deactivate = (id: string) =>
        scim.patch(`/Users/${id}`, patchOf({ op: 'Replace', path: 'active', value: 'False' }));
      // Population: every active SCIM user (the 30, plus the earlier tests' ones).
      const population = (await scim.get('/Users?count=0')).body.totalResults as number;
      const threshold = Math.max(25, Math.ceil(population * 0.05));
      for (const id of ids.slice(0, threshold)) expect((await deactivate(id)).status).toBe(200);
      expect(await offboard.getDelayedCount()).toBe(threshold);
      const over = await deactivate(ids[threshold] ?? '');
      expectError(over, 403);
      expect(over.body.detail).toMatch(new RegExp(`${threshold + 1} deactivations in one burst`));
      expect(await offboard.getDelayedCount()).toBe(0);
      expect(await offboard.getWaitingCount()).toBe(0);
      expect((await scim.get(`/Users/${ids[threshold]}`)).body.active).toBe(true);

      // The burst is one quarantined plan of source scim listing exactly its offboards.
      const plans = h.pipeline.stores.syncPlans;
      const listed = (await plans.list()).filter((p) => p.sourceName === 'scim');
      expect(listed).toHaveLength(1);
      const plan = listed[0];
      expect(plan?.counts.offboard).toBe(threshold + 1);
      expect(plan?.refusals[0]).toMatch(new RegExp(`threshold of ${threshold} for \\d+ active SCIM users`));
      expect(over.body.detail).toContain(`quarantined plan ${plan?.id}`);
      // The IdP retries the refused request, and the burst goes on: the same plan, grown by the
      // new user only, never a second plan or a duplicate entry.
      const retried = await deactivate(ids[threshold] ?? '');
      expectError(retried, 403);
      expect(retried.body.detail).toContain(`quarantined plan ${plan?.id}`);
      expectError(await deactivate(ids[threshold + 1] ?? ''), 403);
      const after = (await plans.list()).filter((p) => p.sourceName === 'scim');
      expect(after.map((p) => [p.id, p.counts.offboard])).toEqual([[plan?.id, threshold + 2]]);
      expect(await offboard.getDelayedCount()).toBe(0);
      await plans.take(plan?.id ?? '');
    });
  });

  describe('retention (docs/scim.md)', () => {
    it('the janitor rule removes users deactivated longer than REVOKED_RETENTION, and frees their userName', async () => {
      const active = (await scim.post('/Users', scimUser(200))).body.id as string;
      const inactive = (await scim.post('/Users', scimUser(201, { active: false }))).body.id as string;
      const { redis, keys } = h.pipeline;
      // Not yet expired: kept.
      expect(await purgeInactiveScimUsers(redis, keys, Date.now() - 60_000)).toBe(0);
      const expired = await purgeInactiveScimUsers(redis, keys, Date.now() + 1);
      expect(expired).toBeGreaterThanOrEqual(1);
      expectError(await scim.get(`/Users/${inactive}`), 404);
      expect((await scim.get(`/Users/${active}`)).status).toBe(200);
      expect(await redis.zcard(keys.scimInactive)).toBe(0);
      expect((await scim.post('/Users', scimUser(201))).status).toBe(201);
    });
  });
});
