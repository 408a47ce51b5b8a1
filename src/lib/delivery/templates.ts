import { readFile, stat } from 'node:fs/promises';
import { ProvisionerError } from '../core/errors.ts';
import { join } from 'node:path';

/**
 * Invitation message templates: tiny `{{placeholder}}` templates, so a customer can restyle the
 * message (own app name, own wording, language) by dropping files into `TEMPLATES_DIR` without
 * code changes. Values are HTML-escaped in HTML templates; unknown placeholders render empty.
 */

/** The template files a `TEMPLATES_DIR` may override; any file missing falls back to the default. */
const TEMPLATE_FILES = {
  emailSubject: 'email-subject.txt',
  emailText: 'email.txt',
  emailHtml: 'email.html',
  smsText: 'sms.txt',
} as const;

export type TemplateName = keyof typeof TEMPLATE_FILES;
export type TemplateSet = Readonly<Record<TemplateName, string>>;

/**
 * Values available to every template. `code` is the invitation code (secret: rendered only into
 * the outgoing message, never logged). `qr_cid` is the content id of the inline QR image.
 */
export interface TemplateValues {
  first_name: string;
  last_name: string;
  app_name: string;
  code: string;
  support_contact: string;
  expires_at: string;
  qr_cid: string;
  /** "Reminder: " on reminders, empty otherwise. */
  reminder_prefix: string;
}

const DEFAULT_EMAIL_TEXT = `Hello {{first_name}},

{{reminder_prefix}}your mobile access pass is ready. To put it on your phone:

1. Install the "{{app_name}}" app from the App Store (iPhone) or Google Play (Android).
2. Open the app, accept the terms, and choose "Enter invitation code" (or "I have an invitation code").
3. Enter this code exactly as shown:

   {{code}}

   You can also scan the QR code attached to this email from the app.

It usually works within a few seconds. Keep Bluetooth on and hold your phone near a reader to open a door.
The code is valid until {{expires_at}} and works once, on one phone. Do not share it.

Trouble? Contact {{support_contact}}.
Until your phone works, keep using your current card or badge, or ask {{support_contact}} for a temporary PIN or card.
`;

const DEFAULT_EMAIL_HTML = `<!doctype html>
<html><body style="font-family: Arial, sans-serif; line-height: 1.5; color: #222;">
<p>Hello {{first_name}},</p>
<p>{{reminder_prefix}}your mobile access pass is ready. To put it on your phone:</p>
<ol>
<li>Install the <strong>{{app_name}}</strong> app from the App Store (iPhone) or Google Play (Android).</li>
<li>Open the app, accept the terms, and choose <em>Enter invitation code</em> (or <em>I have an invitation code</em>).</li>
<li>Enter this code exactly as shown:
<p style="font-size: 22px; font-family: monospace; letter-spacing: 2px;"><strong>{{code}}</strong></p>
or scan this QR code from the app:<br>
<img src="cid:{{qr_cid}}" alt="QR code of your invitation code" width="200" height="200"></li>
</ol>
<p>It usually works within a few seconds. Keep Bluetooth on and hold your phone near a reader to open a door.</p>
<p>The code is valid until {{expires_at}} and works once, on one phone. Do not share it.</p>
<p>Trouble? Contact {{support_contact}}.<br>
Until your phone works, keep using your current card or badge, or ask {{support_contact}} for a temporary PIN or card.</p>
</body></html>
`;

/** The built-in templates (English). */
export const DEFAULT_TEMPLATES: TemplateSet = Object.freeze({
  emailSubject: '{{reminder_prefix}}Your {{app_name}} mobile access invitation',
  emailText: DEFAULT_EMAIL_TEXT,
  emailHtml: DEFAULT_EMAIL_HTML,
  // One SMS segment where possible: app, code, where to enter it, whom to ask.
  smsText:
    '{{reminder_prefix}}Your door access code: {{code}} Install {{app_name}}, tap "Enter invitation code". Help: {{support_contact}}',
});

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch);
}

/** Replaces `{{ name }}` with the value (escaped when `html`). Unknown names render empty. */
export function renderTemplate(
  template: string,
  values: Readonly<Partial<Record<string, string>>>,
  options: { html: boolean },
): string {
  return template.replace(/\{\{\s*([a-zA-Z0-9_]+)\s*\}\}/g, (_match, name: string) => {
    const value = Object.hasOwn(values, name) ? (values[name] ?? '') : '';
    return options.html ? escapeHtml(value) : value;
  });
}

/**
 * The defaults, with every file present in `dir` taking their place. A missing directory is a
 * configuration error (the operator asked for it); a missing single file is not.
 */
export async function loadTemplates(dir: string | undefined): Promise<TemplateSet> {
  if (!dir) return DEFAULT_TEMPLATES;
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new ProvisionerError('templates_dir_missing', `TEMPLATES_DIR ${dir} is not a readable directory`);
  }
  const out: Record<TemplateName, string> = { ...DEFAULT_TEMPLATES };
  for (const [name, file] of Object.entries(TEMPLATE_FILES) as [TemplateName, string][]) {
    try {
      out[name] = await readFile(join(dir, file), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return Object.freeze(out);
}
