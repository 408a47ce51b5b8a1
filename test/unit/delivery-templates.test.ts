import { describe, expect, it } from 'vitest';
import { toE164 } from '../../src/lib/delivery/sms.ts';
import { DEFAULT_TEMPLATES, escapeHtml, renderTemplate } from '../../src/lib/delivery/templates.ts';
import { templateValues } from '../../src/lib/delivery/email.ts';

describe('templates', () => {
  it('replaces placeholders, escapes only in HTML mode, renders unknown names empty', () => {
    const values = { name: '<Ada & "Bob">' };
    expect(renderTemplate('Hi {{ name }}{{missing}}!', values, { html: false })).toBe('Hi <Ada & "Bob">!');
    expect(renderTemplate('Hi {{name}}!', values, { html: true })).toBe(
      'Hi &lt;Ada &amp; &quot;Bob&quot;&gt;!',
    );
    expect(renderTemplate('{{constructor}}{{__proto__}}', {}, { html: false })).toBe('');
    expect(escapeHtml("'")).toBe('&#39;');
  });

  it('keeps the default SMS within one 160-character segment for typical values', () => {
    const values = templateValues(
      { appName: 'HID Mobile Access', supportContact: '+44 20 7946 0000' },
      { firstName: 'Ada', lastName: 'Lovelace', code: 'AB12-CD34-EF56-GH78' },
    );
    const text = renderTemplate(DEFAULT_TEMPLATES.smsText, { ...values }, { html: false });
    expect(text).toContain('AB12-CD34-EF56-GH78');
    expect(text.length).toBeLessThanOrEqual(160);
  });
});

describe('toE164', () => {
  it.each([
    ['+447700900123', '+447700900123'],
    [' +44 7700 900 123 ', '+447700900123'],
    ['0044-7700-900123', '+447700900123'],
    ['+1 (415) 555-2671', '+14155552671'],
  ])('accepts %s', (raw, expected) => {
    expect(toE164(raw)).toBe(expected);
  });
  it.each(['07700900123', '+0447700900123', '+12', 'abc', '', '+1234567890123456'])('rejects %s', (raw) => {
    expect(toE164(raw)).toBeUndefined();
  });
});
