import { INVITATION_CODE_PATTERN } from '../lib/core/logger.ts';

/**
 * Tiny server-side HTML helpers for the admin pages. Everything interpolated goes through
 * {@link esc}; {@link html} marks already-safe fragments so they are not escaped twice.
 */

/** A fragment that is already safe HTML. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** Escapes text for element content and quoted attributes; blanks anything shaped like an invitation code. */
export function esc(value: unknown): string {
  if (value instanceof SafeHtml) return value.value;
  if (value === undefined || value === null) return '';
  const text = String(value).replace(INVITATION_CODE_PATTERN, '[REDACTED]');
  return text.replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Tagged template: interpolations are escaped unless they are {@link SafeHtml} (or arrays of it). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += Array.isArray(value) ? value.map((v) => esc(v)).join('') : esc(value);
    out += strings[i + 1] ?? '';
  });
  return new SafeHtml(out);
}

export function isoTime(ms: number | undefined): string {
  return ms === undefined || !Number.isFinite(ms)
    ? ''
    : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:0;color:#1d2733}
header{background:#1d2733;color:#fff;padding:.6rem 1rem;display:flex;gap:1.2rem;align-items:center}
header a{color:#fff}header form{margin-left:auto}main{padding:1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}
th,td{border:1px solid #ccd3db;padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#eef1f4}
.ok{color:#17703a}.bad{color:#b3261e}.pending{color:#8a6d00}.flash{background:#e7f3ea;padding:.5rem;border:1px solid #9fd0ab}
form.inline{display:inline;margin:0}button{cursor:pointer}
.charts{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}figcaption{font-weight:600;margin:.3rem 0}
.step{display:flex;gap:.6rem;align-items:center;margin:.2rem 0}.step span{width:9rem}.step progress{width:18rem}`;

/** The page frame: header with navigation and a logout button (cookie sessions only). */
export function layout(
  title: string,
  body: SafeHtml,
  options: { csrf?: string; logout?: boolean; head?: SafeHtml } = {},
): string {
  const logout = options.logout
    ? html`<form method="post" action="/logout"><button type="submit">Sign out</button></form>`
    : html``;
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>${title} · doorflow-provisioner</title>
${options.csrf ? html`<meta name="csrf-token" content="${options.csrf}">` : html``}
<style>${new SafeHtml(STYLE)}</style>${options.head ?? html``}</head><body>
<header><strong>doorflow-provisioner</strong><a href="/admin/runs">Runs</a><a href="/admin/plans">Plans</a><a href="/admin/queues">Queues</a>${logout}</header>
<main><h1>${title}</h1>${body}</main></body></html>`.value;
}

/** A POST button form carrying the CSRF token. */
export function postButton(
  action: string,
  label: string,
  csrf: string | undefined,
  fields: Record<string, string> = {},
): SafeHtml {
  const hidden = Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`);
  const token = csrf ? html`<input type="hidden" name="_csrf" value="${csrf}">` : html``;
  return html`<form class="inline" method="post" action="${action}">${token}${hidden}<button type="submit">${label}</button></form>`;
}
