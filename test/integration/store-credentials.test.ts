import type { RedisConnection } from '../../src/lib/core/redis.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialStore } from '../../src/lib/store/credentials.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { deletePrefix, testRedis, uniquePrefix } from '../helpers/redis.ts';

describe('credential status store', () => {
  let redis: RedisConnection;
  let store: CredentialStore;
  const prefix = uniquePrefix('cs');
  beforeAll(() => {
    redis = testRedis();
    store = new CredentialStore(redis, new RedisKeys(prefix));
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('keeps the current status, a timestamped history, and ignores repeats, stale and post-terminal changes', async () => {
    const t0 = Date.UTC(2026, 0, 1);
    const meta = { personId: 42, systemId: 'E-001', channel: 'email' };
    expect(
      (await store.recordStatus({ id: 'c1', status: 'invited', atMs: t0, source: 'create', meta })).outcome,
    ).toBe('changed');
    expect(
      (await store.recordStatus({ id: 'c1', status: 'invited', atMs: t0 + 5, source: 'poll' })).outcome,
    ).toBe('same');
    expect(
      await store.recordStatus({
        id: 'c1',
        status: 'provisioning',
        atMs: t0 + 10,
        source: 'webhook',
      }),
    ).toEqual({
      outcome: 'changed',
      previous: 'invited',
    });
    // A reordered, older event does not move the status back.
    expect(
      (await store.recordStatus({ id: 'c1', status: 'invited', atMs: t0 + 1, source: 'webhook' })).outcome,
    ).toBe('stale');
    await store.recordStatus({
      id: 'c1',
      status: 'weird-new-status',
      atMs: t0 + 20,
      source: 'webhook',
    });
    await store.recordStatus({ id: 'c1', status: 'revoked', atMs: t0 + 30, source: 'webhook' });
    expect(
      (await store.recordStatus({ id: 'c1', status: 'revoking', atMs: t0 + 40, source: 'revoke' })).outcome,
    ).toBe('stale');

    const rec = await store.get('c1');
    expect(rec).toMatchObject({
      id: 'c1',
      status: 'revoked',
      since: t0 + 30,
      personId: 42,
      systemId: 'E-001',
      channel: 'email',
    });
    const history = await store.history('c1');
    expect(history.map((h) => [h.from, h.status, h.source])).toEqual([
      [null, 'invited', 'create'],
      ['invited', 'provisioning', 'webhook'],
      ['provisioning', 'weird-new-status', 'webhook'],
      ['weird-new-status', 'revoked', 'webhook'],
    ]);
    expect(history[1]?.at).toBe(new Date(t0 + 10).toISOString());
    expect(await store.ofPerson(42)).toEqual(['c1']);
    expect(await store.personIdForSystemId('E-001')).toBe(42);
  });

  it('counts by status and finds credentials stuck in provisioning', async () => {
    const t0 = Date.UTC(2026, 0, 2);
    await store.recordStatus({ id: 'p1', status: 'provisioning', atMs: t0, source: 'webhook' });
    await store.recordStatus({
      id: 'p2',
      status: 'provisioning',
      atMs: t0 + 9 * 60_000,
      source: 'webhook',
    });
    expect(await store.stuckProvisioningIds(t0 + 10 * 60_000 + 1, 10 * 60_000)).toEqual(['p1']);
    expect(await store.countByStatus()).toMatchObject({ provisioning: 2, revoked: 1 });
  });
  it('keeps known statuses moving forward when racing reads land out of order', async () => {
    const t0 = Date.UTC(2026, 0, 3);
    await store.recordStatus({ id: 'r1', status: 'active', atMs: t0, source: 'webhook' });
    const late = await store.recordStatus({
      id: 'r1',
      status: 'provisioning',
      atMs: t0 + 1,
      source: 'poll',
    });
    expect(late.outcome).toBe('stale');
    // An unknown status is ordered by time only.
    expect(
      (await store.recordStatus({ id: 'r1', status: 'suspended', atMs: t0 + 2, source: 'poll' })).outcome,
    ).toBe('changed');
    expect((await store.get('r1'))?.status).toBe('suspended');
  });
});
