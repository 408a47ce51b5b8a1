import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '../../src/lib/core/logger.ts';
import { encodeKey } from '../../src/lib/jobs/registry.ts';
import { intake } from '../../src/producers/intake.ts';
import { type FakeSms, startFakeSms } from '../helpers/fake-sms.ts';
import { type LifecycleHarness, startLifecycle } from '../helpers/lifecycle.ts';
import { roster } from '../helpers/pipeline.ts';
import { dumpRedis } from '../helpers/redis-dump.ts';

const CODE_SHAPE = /[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/;

/** Every key under the harness prefix, every value of every type, as text. */
async function dumpLifecycle(l: LifecycleHarness): Promise<{ keys: number; text: string }> {
  return await dumpRedis(l.h.pipeline.redis, l.prefix);
}

describe('acceptance 6: no invitation code in logs or in plain text in Redis after a full run', () => {
  let l: LifecycleHarness | undefined;
  let sms: FakeSms | undefined;
  afterEach(async () => {
    await l?.close();
    await sms?.close();
  });

  it('runs email, sms and webhook deliveries, reminders, webhooks, revoke and reissue, then scans', async () => {
    const logStream = new PassThrough();
    let logs = '';
    logStream.on('data', (c: Buffer) => {
      logs += c.toString();
    });
    // The redact paths, but NOT the last-resort scrubber: the code must never be logged at all.
    const logger = pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[REDACTED]' } }, logStream);
    sms = await startFakeSms();
    l = await startLifecycle({
      webhooks: 'real',
      logger,
      sim: { provisioningDelayMs: 100, revokeDelayMs: 100 },
      env: {
        LOG_LEVEL: 'debug',
        REMINDER_AFTER: '1s',
        REMINDER_MAX: '1',
        STATUS_POLL_AFTER: '1s',
        SMS_BASE_URL: sms.url,
        SMS_ACCOUNT_SID: sms.accountSid,
        SMS_AUTH_TOKEN: sms.authToken,
        SMS_FROM: '+15005550006',
      },
    });
    const lh = l;
    const people = roster(9);
    const withMobile = people.map((p, i) => ({ ...p, mobile: `+4477009001${String(i).padStart(2, '0')}` }));
    for (const [delivery, rows] of [
      ['email', withMobile.slice(0, 3)],
      ['sms', withMobile.slice(3, 6)],
      ['webhook', withMobile.slice(6, 9)],
    ] as const) {
      const run = await intake(lh.h.pipeline.intakeDeps(), { source: 'test', delivery }, rows);
      await lh.h.waitForRun(run.runId);
    }
    // Reminders (1 s) go out for everyone still invited.
    await lh.smtp.waitFor(6);
    await lh.waitFor('sms reminders', () => (sms && sms.messages.length >= 6 ? true : undefined));
    // One person accepts; one is revoked; one gets a new credential.
    const creds = lh.h.sim.credentials();
    const byPerson = (sid: string) => lh.h.sim.people().find((p) => p.system_id === sid)?.id ?? 0;
    // The one who accepts is neither the one revoked nor the one reissued (the simulator lists
    // credentials in creation order, which concurrent batches do not fix).
    const accepting = creds.find((c) => c.person_id === byPerson('E00001'));
    lh.h.sim.acceptInvitation(accepting?.invitation_code ?? '');
    await lh.h.pipeline.queues.add('revocation', { personId: byPerson('E00002') }, { jobId: 'revoke-e2' });
    const e3Cred = creds.find((c) => c.person_id === byPerson('E00003'));
    await lh.h.pipeline.queues.add(
      'reissue',
      { personId: byPerson('E00003'), oldCredentialId: e3Cred?.id ?? '', channel: 'email' },
      { jobId: `reissue--${encodeKey(e3Cred?.id ?? '')}` },
    );
    let seen = '';
    await lh
      .waitFor('accepted, revoked and reissued', async () => {
        const status = (await lh.record(accepting?.id ?? ''))?.status;
        const revoked = lh.h.sim.credentials().filter((c) => c.status === 'revoked').length;
        const total = lh.h.sim.credentials().length;
        seen = `accepted one ${status}, ${revoked} revoked (want 2), ${total} credentials (want 10)`;
        return status === 'active' && revoked >= 2 && total === 10 ? true : undefined;
      })
      .catch(async (err: Error) => {
        const counts = await Promise.all(
          (['status-events', 'revocation', 'reissue', 'status-poll', 'lifecycle-tick'] as const).map(
            async (q) => `${q} ${JSON.stringify(await lh.h.pipeline.queues.get(q).getJobCounts())}`,
          ),
        );
        throw new Error(`${err.message}: ${seen}; ${counts.join('; ')}`);
      });
    await lh.smtp.waitFor(7);

    const codes = lh.h.sim
      .credentials()
      .map((c) => c.invitation_code)
      .filter((c): c is string => Boolean(c));
    expect(codes.length).toBeGreaterThanOrEqual(10);
    // The codes really travelled: in emails, SMS texts and webhook bodies (so the scan below means something).
    expect(lh.smtp.raw.join('\n')).toMatch(CODE_SHAPE);
    expect(sms.messages.every((m) => CODE_SHAPE.test(m.body))).toBe(true);
    // Webhook channel: 3 first deliveries and 3 reminders, all with valid signatures.
    await lh.waitFor('webhook reminders', () => (lh.h.receiver.accepted.length >= 6 ? true : undefined));
    expect(lh.h.receiver.rejected()).toBe(0);
    expect(lh.h.receiver.accepted.every((d) => d.hasCode)).toBe(true);

    const dump = await dumpLifecycle(lh);
    expect(dump.keys).toBeGreaterThan(50);
    for (const code of codes) expect(dump.text.includes(code)).toBe(false);
    expect(dump.text).not.toMatch(CODE_SHAPE);

    expect(logs.length).toBeGreaterThan(1000);
    for (const code of codes) expect(logs.includes(code)).toBe(false);
    expect(logs).not.toMatch(CODE_SHAPE);
  });
});
