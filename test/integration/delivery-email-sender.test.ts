import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEmailSender, invitationQrPng, QR_CONTENT_ID } from '../../src/lib/delivery/email.ts';
import { ProvisionerError } from '../../src/lib/core/errors.ts';
import { decodeQrPng, isPng } from '../helpers/qr-decode.ts';
import { type SmtpReceiver, startSmtpReceiver } from '../helpers/smtp-receiver.ts';

const CODE = 'AB12-CD34-EF56-GH78';

describe('email channel against a real SMTP server', () => {
  let smtp: SmtpReceiver;
  beforeEach(async () => {
    smtp = await startSmtpReceiver();
  });
  afterEach(async () => {
    await smtp.close();
  });

  const settings = () => ({
    smtpUrl: smtp.url,
    mailFrom: 'Access Team <access@example.com>',
    appName: 'HID Mobile Access',
    supportContact: 'helpdesk@example.com',
    templatesDir: undefined,
  });

  it('delivers clear instructions, the code as text, and a QR image of the code', async () => {
    const sender = createEmailSender(settings());
    try {
      await sender.send({
        to: 'ada@example.com',
        firstName: 'Ada',
        lastName: 'Lovelace',
        code: CODE,
        expiresAt: '2026-12-02T18:00:00Z',
      });
    } finally {
      sender.close();
    }
    const [mail] = await smtp.waitFor(1);
    expect(mail?.subject).toBe('Your HID Mobile Access mobile access invitation');
    expect(mail?.from?.text).toContain('access@example.com');
    const text = mail?.text ?? '';
    const html = String(mail?.html);
    for (const body of [text, html]) {
      expect(body).toContain(CODE);
      expect(body).toContain('HID Mobile Access'); // which app
      expect(body).toMatch(/Enter invitation code/); // where to enter it
      expect(body).toMatch(/within a few seconds/); // how long it takes
      expect(body).toContain('helpdesk@example.com'); // whom to contact
      expect(body).toMatch(/temporary PIN or card/); // backup access
      expect(body).toContain('Wed, 02 Dec 2026 18:00:00 UTC');
    }
    expect(html).toContain(`cid:${QR_CONTENT_ID}`);
    const qr = mail?.attachments.find((a) => a.contentType === 'image/png');
    expect(qr?.cid).toBe(QR_CONTENT_ID);
    const png = qr?.content as Buffer;
    expect(isPng(png)).toBe(true);
    expect(png.equals(await invitationQrPng(CODE))).toBe(true);
    expect(decodeQrPng(png)).toBe(CODE);
  });

  it('uses templates from TEMPLATES_DIR and HTML-escapes values in HTML templates', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dfp-tpl-'));
    try {
      await writeFile(join(dir, 'email-subject.txt'), 'Badge for {{first_name}}\nBcc: evil@example.com');
      await writeFile(
        join(dir, 'email.html'),
        '<p>Hi {{first_name}} — open {{app_name}}: <b>{{code}}</b></p>',
      );
      const sender = createEmailSender({ ...settings(), appName: 'Acme <Access>', templatesDir: dir });
      try {
        await sender.send({
          to: 'bob@example.com',
          firstName: 'Bob & "Co"',
          lastName: 'X',
          code: CODE,
          reminder: true,
        });
      } finally {
        sender.close();
      }
      const [mail] = await smtp.waitFor(1);
      expect(mail?.subject).toBe('Badge for Bob & "Co" Bcc: evil@example.com');
      expect(mail?.bcc).toBeUndefined();
      expect(String(mail?.html)).toContain('Hi Bob &amp; &quot;Co&quot; — open Acme &lt;Access&gt;: <b>');
      expect(mail?.text).toContain('Reminder: your mobile access pass'); // default text template kept
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('classifies a 550 as permanent and a 450 as retryable', async () => {
    const sender = createEmailSender(settings());
    try {
      smtp.rejectNext(550);
      const permanent = await sender
        .send({ to: 'x@example.com', firstName: 'X', lastName: 'Y', code: CODE })
        .catch((e: unknown) => e);
      expect(permanent).toBeInstanceOf(ProvisionerError);
      expect((permanent as ProvisionerError).code).toBe('email_rejected');
      expect((permanent as ProvisionerError).retryable).toBe(false);
      expect((permanent as Error).message).not.toContain(CODE);
      smtp.rejectNext(450);
      const transient = await sender
        .send({ to: 'x@example.com', firstName: 'X', lastName: 'Y', code: CODE })
        .catch((e: unknown) => e);
      expect((transient as ProvisionerError).retryable).toBe(true);
    } finally {
      sender.close();
    }
    expect(smtp.messages).toHaveLength(0);
  });

  it('ends DATA only after the commit mark: an attempt that dies before it leaves no message', async () => {
    const sender = createEmailSender(settings());
    const marks: string[] = [];
    try {
      // The commit mark cannot be written (the process dies there): the server keeps nothing.
      const err = await sender
        .send(
          { to: 'x@example.com', firstName: 'X', lastName: 'Y', code: CODE },
          {
            gate: {
              commit: () => Promise.reject(new Error('died before the mark')),
              reopen: () => Promise.resolve(),
            },
          },
        )
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProvisionerError);
      expect(smtp.messages).toHaveLength(0);
      // The mark comes after the whole body was handed over, and before the server took the message.
      await sender.send(
        { to: 'x@example.com', firstName: 'X', lastName: 'Y', code: CODE },
        {
          gate: {
            commit: () => {
              marks.push(`commit:${smtp.messages.length}`);
              return Promise.resolve();
            },
            reopen: () => Promise.resolve(),
          },
        },
      );
    } finally {
      sender.close();
    }
    expect(marks).toEqual(['commit:0']);
    expect(smtp.messages).toHaveLength(1);
  });

  it('treats an unreachable SMTP server as retryable', async () => {
    const url = smtp.url;
    await smtp.close();
    const sender = createEmailSender({ ...settings(), smtpUrl: url, timeoutMs: 2_000 });
    const err = await sender
      .send({ to: 'x@example.com', firstName: 'X', lastName: 'Y', code: CODE })
      .catch((e: unknown) => e);
    sender.close();
    expect((err as ProvisionerError).code).toBe('smtp_unavailable');
    expect((err as ProvisionerError).retryable).toBe(true);
    smtp = await startSmtpReceiver();
  });
});
