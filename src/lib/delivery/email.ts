import QRCode from 'qrcode';
import { ProvisionerError } from '../core/errors.ts';
import { type DeliveryChannel, type MessageFields, messageFields, type SendGate } from './channel.ts';
import { smtpSend } from './smtp-send.ts';
import {
  DEFAULT_TEMPLATES,
  loadTemplates,
  renderTemplate,
  type TemplateSet,
  type TemplateValues,
} from './templates.ts';

/**
 * The email channel: an invitation message with clear instructions, the code as text and as an
 * inline QR image, sent over SMTP (`SMTP_URL`, e.g. `smtp://user:pass@mail.example.com:587`).
 */

/** Fixed QR options, so the same code always yields the same PNG (tests regenerate and compare). */
const QR_PNG_OPTIONS = {
  type: 'png',
  errorCorrectionLevel: 'M',
  margin: 2,
  width: 240,
} as const;

/** Content id of the inline QR image the HTML template refers to (`cid:`). */
export const QR_CONTENT_ID = 'invitation-qr@doorflow-provisioner';

export async function invitationQrPng(code: string): Promise<Buffer> {
  return await QRCode.toBuffer(code, QR_PNG_OPTIONS);
}

/** One invitation (or reminder) email. `code` is secret: it goes into the message and nowhere else. */
export interface InvitationEmail extends MessageFields {
  to: string;
}

export interface EmailSettings {
  smtpUrl: string | undefined;
  mailFrom: string | undefined;
  appName: string;
  supportContact: string | undefined;
  templatesDir: string | undefined;
  /** Connection, greeting and socket time-outs in ms. Default 30 000. */
  timeoutMs?: number;
}

export interface ComposedEmail {
  subject: string;
  text: string;
  html: string;
  qrPng: Buffer;
}

export const DEFAULT_SUPPORT_CONTACT = 'your security or facilities team';

/** Human-readable expiry, in UTC so the text does not depend on the server's time zone. */
function formatExpiry(expiresAt: string | null | undefined): string {
  if (!expiresAt) return 'a limited time (ask if it has expired)';
  const ms = Date.parse(expiresAt);
  return Number.isNaN(ms) ? expiresAt : new Date(ms).toUTCString().replace('GMT', 'UTC');
}

export function templateValues(
  settings: Pick<EmailSettings, 'appName' | 'supportContact'>,
  msg: MessageFields,
): TemplateValues {
  return {
    first_name: msg.firstName,
    last_name: msg.lastName,
    app_name: settings.appName,
    code: msg.code,
    support_contact: settings.supportContact ?? DEFAULT_SUPPORT_CONTACT,
    expires_at: formatExpiry(msg.expiresAt),
    qr_cid: QR_CONTENT_ID,
    reminder_prefix: msg.reminder ? 'Reminder: ' : '',
  };
}

/** Renders subject, plain text and HTML, and the QR image (pure apart from PNG encoding). */
async function composeInvitationEmail(
  templates: TemplateSet,
  settings: Pick<EmailSettings, 'appName' | 'supportContact'>,
  msg: InvitationEmail,
): Promise<ComposedEmail> {
  const values = { ...templateValues(settings, msg) };
  return {
    // Header injection guard: a subject is one line whatever a custom template contains.
    subject: renderTemplate(templates.emailSubject, values, { html: false })
      .replace(/[\r\n]+/g, ' ')
      .trim(),
    text: renderTemplate(templates.emailText, values, { html: false }),
    html: renderTemplate(templates.emailHtml, values, { html: true }),
    qrPng: await invitationQrPng(msg.code),
  };
}

export interface EmailSender {
  /** With a `gate`: `commit` is awaited before the end of DATA (smtp-send.ts). */
  send(
    msg: InvitationEmail,
    options?: { signal?: AbortSignal | undefined; gate?: SendGate | undefined },
  ): Promise<{ messageId: string }>;
  close(): void;
}

/** Classifies an SMTP failure: 5xx replies and bad envelopes are permanent, the rest retryable. */
function classifySmtpError(err: unknown): ProvisionerError {
  const e = err as { code?: string; responseCode?: number; response?: unknown };
  // The server's reply says why (it may quote the message: the delivery channels scrub the code).
  const text =
    typeof e.response === 'string'
      ? e.response
          .replace(/\s+/g, ' ')
          .replace(/^\d{3}[ -]/, '')
          .trim()
      : '';
  const reply =
    typeof e.responseCode === 'number' ? ` (SMTP ${e.responseCode}${text ? `: ${text}` : ''})` : '';
  if (e.code === 'EAUTH' || e.code === 'ENOAUTH') {
    return new ProvisionerError('smtp_auth_failed', `SMTP authentication failed${reply}`, { cause: err });
  }
  const transientReply = typeof e.responseCode === 'number' && e.responseCode >= 400 && e.responseCode < 500;
  if (!transientReply && ((e.responseCode ?? 0) >= 500 || e.code === 'EENVELOPE')) {
    return new ProvisionerError('email_rejected', `SMTP server rejected the message${reply}`, { cause: err });
  }
  return new ProvisionerError('smtp_unavailable', `SMTP delivery failed${reply}: ${e.code ?? 'error'}`, {
    cause: err,
    retryable: true,
  });
}

/**
 * An SMTP sender. Templates load lazily once (so a bad `TEMPLATES_DIR` fails the first job
 * loudly rather than the process at start-up of unrelated commands).
 */
export function createEmailSender(settings: EmailSettings): EmailSender {
  if (!settings.smtpUrl) {
    throw new ProvisionerError('email_not_configured', 'SMTP_URL is not set: the email channel cannot send');
  }
  if (!settings.mailFrom) {
    throw new ProvisionerError('email_not_configured', 'MAIL_FROM is not set: the email channel cannot send');
  }
  const timeout = settings.timeoutMs ?? 30_000;
  const smtpUrl = settings.smtpUrl;
  let templates: Promise<TemplateSet> | undefined;
  const mailFrom = settings.mailFrom;
  return {
    async send(msg, options = {}) {
      templates ??= settings.templatesDir
        ? loadTemplates(settings.templatesDir)
        : Promise.resolve(DEFAULT_TEMPLATES);
      const composed = await composeInvitationEmail(await templates, settings, msg);
      let committed = false;
      const gate = options.gate;
      try {
        const info = await smtpSend({
          url: smtpUrl,
          timeoutMs: timeout,
          envelope: { from: mailFrom, to: msg.to },
          mail: {
            from: mailFrom,
            to: msg.to,
            subject: composed.subject,
            text: composed.text,
            html: composed.html,
            attachments: [
              {
                filename: 'invitation-qr.png',
                content: composed.qrPng,
                contentType: 'image/png',
                cid: QR_CONTENT_ID,
                contentDisposition: 'inline',
              },
            ],
          },
          gate: gate && {
            commit: async () => {
              await gate.commit();
              committed = true;
            },
            reopen: () => gate.reopen(),
          },
          signal: options.signal,
        });
        if (info.rejected.length > 0 && info.accepted.length === 0) {
          throw Object.assign(new Error('recipient rejected'), { code: 'EENVELOPE' });
        }
        return { messageId: info.messageId };
      } catch (err) {
        // The server answered the end of DATA with a refusal: it kept nothing, a retry may resend.
        if (committed && typeof (err as { responseCode?: unknown }).responseCode === 'number') {
          await gate?.reopen();
        }
        throw classifySmtpError(err);
      }
    },
    close() {},
  };
}

/**
 * The email channel. The SMTP sender is made on the first send, so settings are only needed by a
 * process that sends email; `close` closes its transport when one was made.
 */
export function createEmailChannel(settings: EmailSettings): DeliveryChannel {
  let sender: EmailSender | undefined;
  return {
    name: 'email',
    async send(to, inv, signal, gate) {
      if (!to.email)
        throw new ProvisionerError('email_missing', 'the person has no email address for the email channel');
      sender ??= createEmailSender(settings);
      await sender.send({ to: to.email, ...messageFields(to, inv) }, { signal, gate });
    },
    // SMTP has no idempotency key nor a log to ask: past the end of DATA the outcome is unknown.
    recover: (_to, _inv, earlier) => Promise.resolve(earlier.committed ? 'unknown' : 'resend'),
    close() {
      sender?.close();
      sender = undefined;
    },
  };
}
