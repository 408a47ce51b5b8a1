import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/core/config.ts';
import { ConfigError } from '../../src/lib/core/errors.ts';
import { resolveAdminAccess, safeEqual } from '../../src/server/admin-auth.ts';
import { esc, html } from '../../src/server/admin-html.ts';

describe('admin auth: constant-time compare', () => {
  it('safeEqual is true only for identical strings, whatever the lengths', () => {
    expect(safeEqual('s3cret-token', 's3cret-token')).toBe(true);
    expect(safeEqual('s3cret-token', 's3cret-tokeN')).toBe(false); // same length
    expect(safeEqual('s3cret-token', 's3cret')).toBe(false); // shorter
    expect(safeEqual('s3cret-token', 's3cret-token-and-more')).toBe(false); // longer
    expect(safeEqual('', '')).toBe(true);
    expect(safeEqual('', 'x')).toBe(false);
    expect(safeEqual('ünïcode', 'ünïcode')).toBe(true);
  });

  it('never throws on unequal lengths (timingSafeEqual would): both sides are hashed first', () => {
    expect(() => safeEqual('a', 'a'.repeat(10_000))).not.toThrow();
  });
});

describe('admin auth: start-up', () => {
  it('refuses to start without credentials, naming the variable', () => {
    const config = loadConfig({});
    expect(() => resolveAdminAccess(config.admin)).toThrow(ConfigError);
    expect(() => resolveAdminAccess(config.admin)).toThrow(/ADMIN_TOKEN/);
    const basic = loadConfig({ ADMIN_AUTH: 'basic', ADMIN_USER: 'ops' });
    expect(() => resolveAdminAccess(basic.admin)).toThrow(/ADMIN_PASSWORD/);
  });

  it('--insecure-local opens the admin but forces 127.0.0.1', () => {
    const config = loadConfig({ SERVE_HOST: '0.0.0.0' });
    expect(resolveAdminAccess(config.admin, { insecureLocal: true })).toEqual({
      mode: 'open',
      host: '127.0.0.1',
    });
    const withToken = loadConfig({
      SERVE_HOST: '0.0.0.0',
      ADMIN_TOKEN: 'tok-123456-419c98a887a253663f2b4944041dd893',
    });
    expect(resolveAdminAccess(withToken.admin, { insecureLocal: true })).toEqual({
      mode: 'token',
      host: '127.0.0.1',
    });
    expect(resolveAdminAccess(withToken.admin)).toEqual({ mode: 'token', host: '0.0.0.0' });
    const basic = loadConfig({ ADMIN_AUTH: 'basic', ADMIN_USER: 'ops', ADMIN_PASSWORD: 'pw-123456' });
    expect(resolveAdminAccess(basic.admin).mode).toBe('basic');
  });
});

describe('admin html', () => {
  it('escapes markup and blanks invitation-code-shaped text', () => {
    expect(esc('<script>alert("x")</script>')).not.toContain('<');
    expect(esc('code ABCD-EFGH-JKLM-NPQR here')).toBe('code [REDACTED] here');
    const name = '"><img src=x onerror=alert(1)>';
    expect(html`<td title="${name}">${name}</td>`.value).not.toMatch(/<img/);
    expect(html`<b>${html`<i>ok</i>`}</b>`.value).toBe('<b><i>ok</i></b>');
  });
});
