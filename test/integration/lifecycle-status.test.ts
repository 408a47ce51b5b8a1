import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { type LifecycleHarness, startLifecycle } from '../helpers/lifecycle.ts';
import { roster } from '../helpers/pipeline.ts';

describe('credential lifecycle: invited → provisioning → active', () => {
  let lh: LifecycleHarness | undefined;
  afterEach(async () => {
    await lh?.close();
    lh = undefined;
  });

  async function provisionOne(l: LifecycleHarness) {
    const run = await intake(l.h.pipeline.intakeDeps(), { source: 'test', delivery: 'email' }, roster(1));
    await l.h.waitForRun(run.runId);
    await l.smtp.waitFor(1);
    const [cred] = l.h.sim.credentials();
    if (!cred?.invitation_code) throw new Error('no credential');
    await l.waitFor('invited recorded', async () => (await l.record(cred.id))?.status === 'invited');
    return { id: cred.id, code: cred.invitation_code };
  }

  it('follows the simulator accept hook through real-format webhooks (fetch + ack)', async () => {
    lh = await startLifecycle({ webhooks: 'real', sim: { provisioningDelayMs: 300 } });
    const l = lh;
    const cred = await provisionOne(l);
    expect(l.h.sim.acceptInvitation(cred.code).ok).toBe(true);
    await l.waitFor('active', async () => (await l.record(cred.id))?.status === 'active');
    const history = await l.h.pipeline.stores.credentials.history(cred.id);
    const moves = history.map((e) => `${e.from ?? '-'}>${e.status}`);
    expect(moves).toEqual(['->invited', 'invited>provisioning', 'provisioning>active']);
    expect(history.slice(1).every((e) => e.source === 'webhook')).toBe(true);
    // Every webhook event was acknowledged by fetching its resource with the ack_token.
    await l.waitFor('acks', () => (l.h.sim.stats().webhooks.unacked === 0 ? true : undefined), 10_000);
    expect(l.h.sim.stats().webhooks.acked).toBeGreaterThanOrEqual(3);
  });

  it('accepts the seed format when enabled', async () => {
    lh = await startLifecycle({ webhooks: 'seed', sim: { provisioningDelayMs: 300 } });
    const l = lh;
    const cred = await provisionOne(l);
    l.h.sim.acceptInvitation(cred.code);
    await l.waitFor('active', async () => (await l.record(cred.id))?.status === 'active');
    const history = await l.h.pipeline.stores.credentials.history(cred.id);
    expect(history.map((e) => e.status)).toEqual(['invited', 'provisioning', 'active']);
    expect(history.slice(1).every((e) => e.source === 'webhook-seed')).toBe(true);
  });

  it('with webhooks off, the poller gets there within the budget', async () => {
    lh = await startLifecycle({
      webhooks: false,
      env: { STATUS_POLL_AFTER: '500ms' },
      sim: { provisioningDelayMs: 300 },
    });
    const l = lh;
    const cred = await provisionOne(l);
    l.h.sim.acceptInvitation(cred.code);
    await l.waitFor('active by poll', async () => (await l.record(cred.id))?.status === 'active', 30_000);
    const history = await l.h.pipeline.stores.credentials.history(cred.id);
    expect(history.at(-1)).toMatchObject({ status: 'active', source: 'poll' });
    // Active is not polled any more: no further polls get scheduled.
    expect(await l.timers('status-poll')).toBe(0);
  });
  it('records credentials issued outside the provisioner but never reminds, expires or polls them', async () => {
    lh = await startLifecycle({ webhooks: 'real', env: { STATUS_POLL_AFTER: '500ms' } });
    const l = lh;
    const df = l.h.pipeline.doorflow();
    const person = await df.createPerson({
      first_name: 'Out',
      last_name: 'Side',
      email: 'outside@example.test',
    });
    const { credential } = await df.createCredential(person.id, {
      credential_type_id: await df.resolveHidCredentialTypeId(),
    });
    await l.waitFor(
      'recorded from the webhook',
      async () => (await l.record(credential.id))?.status === 'invited',
    );
    await new Promise((r) => setTimeout(r, 1_000));
    for (const q of ['reminder', 'expiry', 'status-poll'] as const) {
      expect(await l.h.pipeline.queues.get(q).count()).toBe(0);
    }
    expect((await l.record(credential.id))?.channel).toBeUndefined();
  });
});
