import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { type LifecycleHarness, startLifecycle } from '../helpers/lifecycle.ts';
import { roster } from '../helpers/pipeline.ts';

const DAY = 86_400_000;
const CODE = /[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/;

describe('reminders, expiry and stuck provisioning on a moved clock (timers run through the scheduler tick)', () => {
  let lh: LifecycleHarness | undefined;
  afterEach(async () => {
    await lh?.close();
    lh = undefined;
  });

  it('reminds twice through the same channel, then reissues at expiry, then revokes and alerts past REISSUE_MAX', async () => {
    lh = await startLifecycle({
      manualClock: true,
      env: {
        REMINDER_AFTER: '3d',
        REMINDER_MAX: '2',
        INVITATION_TTL: '7d',
        EXPIRY_POLICY: 'reissue',
        REISSUE_MAX: '1',
      },
      sim: { revokeDelayMs: 50 },
    });
    const l = lh;
    const clock = l.manual;
    if (!clock) throw new Error('manual clock expected');
    const run = await intake(l.h.pipeline.intakeDeps(), { source: 'test', delivery: 'email' }, roster(1));
    await l.h.waitForRun(run.runId);
    await l.smtp.waitFor(1);
    const [first] = l.h.sim.credentials();
    if (!first) throw new Error('no credential');
    await l.waitFor('tracked', async () => (await l.record(first.id))?.status === 'invited');
    await l.waitFor('reminder and expiry scheduled', async () =>
      (await l.timers('reminder')) === 1 && (await l.timers('expiry')) === 1 ? true : undefined,
    );

    // Not due yet: a tick fires nothing and the reminder waits on.
    expect(await l.runDue()).toBe(0);
    expect(await l.timers('reminder')).toBe(1);
    expect(l.smtp.messages).toHaveLength(1);

    clock.advance(3 * DAY + 60_000);
    await l.runDue();
    const [, r1] = await l.smtp.waitFor(2);
    expect(r1?.subject).toMatch(/^Reminder: /);
    expect(r1?.text).toContain(first.invitation_code as string);
    await l.waitFor('reminder 2 scheduled', async () =>
      (await l.timers('reminder')) === 1 ? true : undefined,
    );

    clock.advance(3 * DAY);
    await l.runDue();
    const [, , r2] = await l.smtp.waitFor(3);
    expect(r2?.subject).toMatch(/^Reminder: /);
    // REMINDER_MAX=2: no third reminder is scheduled.
    await l.waitFor('2 reminders recorded', async () => (await l.record(first.id))?.reminders === 2);
    expect(await l.timers('reminder')).toBe(0);

    clock.advance(1 * DAY);
    await l.runDue();
    const [, , , fresh] = await l.smtp.waitFor(4);
    const newCode = CODE.exec(fresh?.text ?? '')?.[0];
    expect(fresh?.subject).not.toMatch(/^Reminder/);
    expect(newCode).toBeDefined();
    expect(newCode).not.toBe(first.invitation_code);
    const live = () =>
      l.h.sim.credentials().filter((c) => ['invited', 'provisioning', 'active'].includes(c.status ?? ''));
    expect(live()).toHaveLength(1);
    const second = live()[0];
    expect(second?.invitation_code).toBe(newCode);
    await l.waitFor('replacement tracked', async () => (await l.record(second?.id ?? ''))?.reissues === 1);
    expect(await l.record(second?.id ?? '')).toMatchObject({
      replaces: first.id,
      reissues: 1,
      status: 'invited',
    });
    expect((await l.record(first.id))?.replacedBy).toBe(second?.id);
    // The old code's reminder copy is gone.
    expect(await l.h.pipeline.redis.exists(l.h.pipeline.keys.credentialCode(first.id))).toBe(0);

    // The old credential is confirmed revoked by the poller (no webhooks in this test).
    clock.advance(16 * 60_000);
    await l.waitFor('old revoked', async () => {
      await l.runDue();
      return (await l.record(first.id))?.status === 'revoked';
    });
    const oldHistory = (await l.h.pipeline.stores.credentials.history(first.id)).map((e) => e.status);
    expect(oldHistory).toEqual(['invited', 'revoking', 'revoked']);

    // The replacement expires too: REISSUE_MAX=1 reached → revoked and an alert, no new credential.
    clock.advance(7 * DAY + 60_000);
    await l.runDue();
    await l.waitFor(
      'reissue-limit alert',
      async () => (await l.h.pipeline.stores.alerts.counts()).reissue_limit === 1,
    );
    expect(live()).toHaveLength(0);
    expect(l.h.sim.credentials()).toHaveLength(2);
    expect(l.alerts.bodies.some((b) => b.alert === 'reissue_limit' && b.credentialId === second?.id)).toBe(
      true,
    );
  });

  it('alerts once when provisioning is stuck longer than STUCK_PROVISIONING_AFTER', async () => {
    lh = await startLifecycle({
      manualClock: true,
      webhooks: 'real',
      env: { STUCK_PROVISIONING_AFTER: '10m' },
    });
    const l = lh;
    const clock = l.manual;
    if (!clock) throw new Error('manual clock expected');
    const run = await intake(l.h.pipeline.intakeDeps(), { source: 'test', delivery: 'email' }, roster(1));
    await l.h.waitForRun(run.runId);
    const [cred] = l.h.sim.credentials();
    l.h.sim.stallProvisioning(true);
    expect(l.h.sim.acceptInvitation(cred?.invitation_code ?? '').ok).toBe(true);
    await l.waitFor('provisioning', async () => (await l.record(cred?.id ?? ''))?.status === 'provisioning');
    await l.waitFor('stuck check scheduled', async () =>
      (await l.timers('stuck-check')) === 1 ? true : undefined,
    );

    clock.advance(9 * 60_000);
    expect(await l.runDue()).toBe(0);
    expect(await l.timers('stuck-check')).toBe(1);
    expect((await l.h.pipeline.stores.alerts.counts()).stuck_provisioning).toBeUndefined();

    clock.advance(2 * 60_000);
    await l.runDue();
    await l.waitFor(
      'alert',
      async () => (await l.h.pipeline.stores.alerts.counts()).stuck_provisioning === 1,
    );
    await l.waitFor('alert webhook', () => (l.alerts.bodies.length > 0 ? true : undefined));
    expect(l.alerts.bodies[0]).toMatchObject({ alert: 'stuck_provisioning', credentialId: cred?.id });
    expect(JSON.stringify(l.alerts.bodies)).not.toMatch(CODE);

    // Un-stalling lets it finish; no second alert for the same stay.
    l.h.sim.stallProvisioning(false);
    await l.waitFor('active', async () => (await l.record(cred?.id ?? ''))?.status === 'active');
    await l.runDue();
    expect((await l.h.pipeline.stores.alerts.counts()).stuck_provisioning).toBe(1);
  });
  it.each([
    ['revoke', 'revoking'],
    ['alert', 'invited'],
  ] as const)('EXPIRY_POLICY=%s at INVITATION_TTL', async (policy, expected) => {
    lh = await startLifecycle({
      manualClock: true,
      env: { REMINDER_MAX: '0', INVITATION_TTL: '7d', EXPIRY_POLICY: policy },
      sim: { revokeDelayMs: 60_000 },
    });
    const l = lh;
    const run = await intake(l.h.pipeline.intakeDeps(), { source: 'test', delivery: 'email' }, roster(1));
    await l.h.waitForRun(run.runId);
    const [cred] = l.h.sim.credentials();
    await l.waitFor('tracked', async () => (await l.record(cred?.id ?? ''))?.status === 'invited');
    await l.waitFor('expiry scheduled', async () => ((await l.timers('expiry')) === 1 ? true : undefined));
    // REMINDER_MAX=0: no reminder copy of the code is kept at all.
    expect(await l.h.pipeline.redis.exists(l.h.pipeline.keys.credentialCode(cred?.id ?? ''))).toBe(0);
    l.manual?.advance(7 * DAY + 60_000);
    await l.runDue();
    if (policy === 'revoke') {
      await l.waitFor('revoking', async () => (await l.record(cred?.id ?? ''))?.status === 'revoking');
      expect(l.h.sim.credentials()[0]?.status).toBe('revoking');
    } else {
      await l.waitFor(
        'alert',
        async () => (await l.h.pipeline.stores.alerts.counts()).invitation_expired === 1,
      );
      await l.waitFor('alert webhook', () => (l.alerts.bodies.length > 0 ? true : undefined));
      expect(l.alerts.bodies.at(-1)).toMatchObject({ alert: 'invitation_expired', credentialId: cred?.id });
    }
    expect((await l.record(cred?.id ?? ''))?.status).toBe(expected);
    expect(l.h.sim.credentials()).toHaveLength(1);
    expect(l.smtp.messages).toHaveLength(1);
  });
  it('applies EXPIRY_POLICY=reissue at once when DoorFlow itself expires the invitation', async () => {
    lh = await startLifecycle({ webhooks: 'real', env: { REMINDER_MAX: '0', EXPIRY_POLICY: 'reissue' } });
    const l = lh;
    const run = await intake(l.h.pipeline.intakeDeps(), { source: 'test', delivery: 'email' }, roster(1));
    await l.h.waitForRun(run.runId);
    await l.smtp.waitFor(1);
    const [old] = l.h.sim.credentials();
    await l.waitFor('tracked', async () => (await l.record(old?.id ?? ''))?.status === 'invited');
    expect(l.h.sim.expireInvitations()).toBe(1);
    const [, fresh] = await l.smtp.waitFor(2);
    const replacement = l.h.sim.credentials().find((c) => c.id !== old?.id);
    expect(replacement?.status).toBe('invited');
    expect(fresh?.text).toContain(replacement?.invitation_code as string);
    await l.waitFor(
      'replacement tracked',
      async () => (await l.record(replacement?.id ?? ''))?.replaces === old?.id,
    );
  });
});
