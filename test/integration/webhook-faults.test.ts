import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { type LifecycleHarness, startLifecycle } from '../helpers/lifecycle.ts';
import { roster } from '../helpers/pipeline.ts';

/**
 * The simulator signs some webhooks with a wrong secret, sends some twice and shuffles batches:
 * forged ones are rejected (the simulator retries them), duplicates and replays change nothing,
 * and every credential still ends `active`, no status recorded twice or out of order.
 */
describe('webhooks under faults: bad signatures, duplicates, reordering', () => {
  let lh: LifecycleHarness | undefined;
  afterEach(async () => {
    await lh?.close();
    lh = undefined;
  });

  it('records each change once and reaches active for everyone', async () => {
    lh = await startLifecycle({
      webhooks: 'real',
      sim: { provisioningDelayMs: 200 },
      // Polling far away: only webhooks may move the statuses here.
      env: { STATUS_POLL_AFTER: '1h' },
    });
    const l = lh;
    l.h.sim.configure({
      webhook: {
        badSignatureRate: 0.4,
        duplicateRate: 0.5,
        reorderRate: 0.5,
        retryBaseMs: 50,
        maxAttempts: 20,
      },
    });
    const run = await intake(l.h.pipeline.intakeDeps(), { source: 'test', delivery: 'email' }, roster(8));
    await l.h.waitForRun(run.runId);
    const creds = l.h.sim.credentials();
    expect(creds).toHaveLength(8);
    for (const c of creds) expect(l.h.sim.acceptInvitation(c.invitation_code ?? '').ok).toBe(true);
    await l.waitFor(
      'all active',
      async () => {
        for (const c of creds) if ((await l.record(c.id))?.status !== 'active') return undefined;
        return true;
      },
      45_000,
    );
    for (const c of creds) {
      const statuses = (await l.h.pipeline.stores.credentials.history(c.id)).map((h) => h.status);
      // Real-format events carry no status: each fetch reads the state at that moment, so a
      // late event may skip `provisioning` — but nothing is recorded twice or moves backwards.
      expect(['invited,provisioning,active', 'invited,active']).toContain(statuses.join(','));
    }
    // Forged deliveries were answered 401, so the simulator had to retry them.
    expect(l.h.sim.stats().webhooks.attemptsFailed).toBeGreaterThan(0);
    expect(l.h.sim.stats().webhooks.deliveriesDropped).toBe(0);
  });
});
