import { afterEach, describe, expect, it } from 'vitest';
import { invitationQrPng } from '../../src/lib/delivery/email.ts';
import { lifecycleProcessors } from '../../src/processors/processor-list.ts';
import { intake } from '../../src/producers/intake.ts';
import { type FakeSms, startFakeSms } from '../helpers/fake-sms.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';
import { decodeQrPng } from '../helpers/qr-decode.ts';
import { type SmtpReceiver, startSmtpReceiver } from '../helpers/smtp-receiver.ts';

describe('delivery channels through the pipeline', () => {
  let h: Harness | undefined;
  let smtp: SmtpReceiver | undefined;
  let sms: FakeSms | undefined;
  afterEach(async () => {
    await h?.close();
    await smtp?.close();
    await sms?.close();
    h = undefined;
    smtp = undefined;
    sms = undefined;
  });

  it('email: one message per person with the right code and QR, retried after a 450, never sent twice', async () => {
    smtp = await startSmtpReceiver();
    h = await startHarness({
      env: {
        SMTP_URL: smtp.url,
        MAIL_FROM: 'access@example.com',
        SUPPORT_CONTACT: 'Helpdesk +44 20 7946 0000',
      },
    });
    await h.startWorkers({ extraProcessors: lifecycleProcessors });
    smtp.rejectNext(450, 2);
    const run = await intake(h.pipeline.intakeDeps(), { source: 'test', delivery: 'email' }, roster(5));
    const finished = await h.waitForRun(run.runId);
    expect(finished.counts.provisioned).toBe(5);
    const mails = await smtp.waitFor(5);
    const codes = new Map(h.sim.credentials().map((c) => [c.person_id, c.invitation_code]));
    // DoorFlow holds no email for people we email ourselves (DOORFLOW_SEND_EMAIL=auto): the
    // roster maps each address to its system_id, and DoorFlow's person to that.
    const sidOfEmail = new Map(roster(5).map((r) => [String(r.email), String(r.system_id)]));
    const people = new Map(h.sim.people().map((p) => [p.system_id, p.id]));
    expect(h.sim.people().every((p) => !p.email)).toBe(true);
    for (const mail of mails) {
      const to = mail.to && !Array.isArray(mail.to) ? mail.to.text : '';
      const code = codes.get(people.get(sidOfEmail.get(to)) ?? -1);
      expect(code).toMatch(/^[A-Z0-9]{4}-/);
      expect(mail.text).toContain(code as string);
      expect(mail.text).toContain('Helpdesk +44 20 7946 0000');
      const png = mail.attachments.find((a) => a.contentType === 'image/png')?.content as Buffer;
      expect(png.equals(await invitationQrPng(code as string))).toBe(true);
      expect(decodeQrPng(png)).toBe(code);
    }
    expect(new Set(mails.map((m) => (m.to && !Array.isArray(m.to) ? m.to.text : ''))).size).toBe(5);

    // Tracking started with an encrypted (never plain) reminder copy of the code.
    const cred = h.sim.credentials()[0];
    const record = await h.pipeline.stores.credentials.get(cred?.id ?? '');
    expect(record).toMatchObject({ status: 'invited', channel: 'email' });
    const kept = await h.pipeline.redis.get(h.pipeline.keys.credentialCode(cred?.id ?? ''));
    expect(kept).toBeTruthy();
    expect(kept).not.toContain(cred?.invitation_code as string);

    // Importing the same roster again sends nothing new.
    const again = await intake(h.pipeline.intakeDeps(), { source: 'test', delivery: 'email' }, roster(5));
    await h.waitForRun(again.runId);
    expect(smtp.messages).toHaveLength(5);
  });

  it('sms: one short E.164 text per person through a Twilio-shaped endpoint, retried after a 503', async () => {
    sms = await startFakeSms();
    h = await startHarness({
      env: {
        SMS_BASE_URL: sms.url,
        SMS_ACCOUNT_SID: sms.accountSid,
        SMS_AUTH_TOKEN: sms.authToken,
        SMS_FROM: '+15005550006',
      },
    });
    await h.startWorkers({ extraProcessors: lifecycleProcessors });
    sms.failNext(503);
    const rows = roster(4).map((r, i) => ({ ...r, mobile: `+44 7700 900 ${String(100 + i)}` }));
    const run = await intake(h.pipeline.intakeDeps(), { source: 'test', delivery: 'sms' }, rows);
    const finished = await h.waitForRun(run.runId);
    expect(finished.counts.provisioned).toBe(4);
    expect(sms.messages).toHaveLength(4);
    expect(sms.requests.filter((r) => r.status === 503)).toHaveLength(1);
    const codes = new Set(h.sim.credentials().map((c) => c.invitation_code));
    for (const m of sms.messages) {
      expect(m.to).toMatch(/^\+447700900\d{3}$/);
      const code = /[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/.exec(m.body)?.[0];
      expect(codes.has(code ?? '')).toBe(true);
      expect(m.body.length).toBeLessThanOrEqual(160);
      expect(m.body).toContain('HID Mobile Access');
    }
    expect(new Set(sms.messages.map((m) => m.to)).size).toBe(4);
  });
});
