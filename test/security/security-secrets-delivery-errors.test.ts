import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { type FakeSms, startFakeSms } from '../helpers/fake-sms.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';
import { dumpRedis } from '../helpers/redis-dump.ts';

describe('issue 14 secrets: an outside party echoing the code in its error', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  it('an SMS provider quoting the text in its 400 leaves no code or token in dead letters, failed jobs or run entries', async () => {
    const sms: FakeSms = await startFakeSms();
    closers.push(() => sms.close());
    const h: Harness = await startHarness({
      env: {
        SMS_BASE_URL: sms.url,
        SMS_ACCOUNT_SID: sms.accountSid,
        SMS_AUTH_TOKEN: sms.authToken,
        SMS_FROM: '+15005550006',
      },
    });
    closers.push(() => h.close());
    await h.startWorkers();
    sms.echoNext(3);
    const rows = roster(3).map((r, i) => ({ ...r, mobile: `+44 7700 900 ${String(200 + i)}` }));
    const run = await intake(h.pipeline.intakeDeps(), { source: 'test', delivery: 'sms' }, rows);
    await h.waitForRun(run.runId);
    const codes = h.sim.credentials().map((c) => c.invitation_code ?? '');
    expect(codes).toHaveLength(3);
    for (const code of codes) expect(code).toMatch(/^[A-Z0-9]{4}-/);
    // The provider really echoed them (so the scan below means something).
    expect(sms.requests.filter((r) => r.status === 400)).toHaveLength(3);

    const dead = await h.pipeline.deadLetters.list();
    expect(dead).toHaveLength(3);
    for (const d of dead) {
      expect(d.code).toBe('sms_rejected');
      expect(d.message).toContain('could not be sent');
    }
    const failed = await h.pipeline.queues.get('delivery-sms').getFailed();
    const shown = JSON.stringify({
      dead,
      failed: failed.map((j) => ({ reason: j.failedReason, stack: j.stacktrace, data: j.data })),
    });
    const stored = (await dumpRedis(h.pipeline.redis, h.config.queuePrefix)).text;
    for (const text of [shown, stored]) {
      for (const code of codes) expect(text).not.toContain(code);
      expect(text).not.toMatch(/[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/);
      expect(text).not.toContain(sms.authToken);
      expect(text).not.toContain(h.sim.accessToken);
    }
  });
});
