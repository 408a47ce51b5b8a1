import fc from 'fast-check';
import {
  type CountryCode,
  getCountries,
  getCountryCallingCode,
  getExampleNumber,
  parsePhoneNumberFromString,
} from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/mobile/examples';
import { describe, expect, it } from 'vitest';
import { toE164 } from '../../src/lib/delivery/sms.ts';
import { isSupportedCountry, normaliseMobile, normalisePhone } from '../../src/lib/delivery/phone.ts';
import { planOf } from '../../src/lib/delivery/phone-plans.ts';

describe('phone normaliser (libphonenumber-js metadata)', () => {
  it('reads Nigerian national numbers with --default-country NG', () => {
    expect(normaliseMobile('0803 123 4567', 'NG')).toEqual({ ok: true, e164: '+2348031234567' });
    expect(normaliseMobile('080-3123-4567', 'ng')).toEqual({ ok: true, e164: '+2348031234567' });
    expect(normaliseMobile('234 803 123 4567', 'NG')).toEqual({ ok: true, e164: '+2348031234567' });
    expect(normaliseMobile('+234 (0)803 123 4567')).toEqual({ ok: true, e164: '+2348031234567' });
    expect(normaliseMobile('0803 123 45', 'NG')).toEqual({
      ok: false,
      reason: 'mobile has 8 national digits; NG numbers have 10',
    });
  });

  it('refuses a London landline for SMS, with the reason, but still formats it', () => {
    const refused = { ok: false, reason: 'mobile is a landline (fixed-line) number; SMS needs a mobile' };
    expect(normaliseMobile('020 7946 0958', 'GB')).toEqual(refused);
    expect(normaliseMobile('+44 20 7946 0958')).toEqual(refused);
    expect(normalisePhone('020 7946 0958', 'GB')).toEqual({ ok: true, e164: '+442079460958' });
    expect(toE164('+44 20 7946 0958')).toBeUndefined();
    expect(normaliseMobile('0800 123 4567', 'GB')).toEqual({
      ok: false,
      reason: 'mobile is a toll-free number; SMS needs a mobile',
    });
  });

  it.each([
    ['098765 43210', 'IN', '+919876543210'],
    ['91 98765 43210', 'IN', '+919876543210'],
    ['(11) 98765-4321', 'BR', '+5511987654321'],
    ['090-1234-5678', 'JP', '+819012345678'],
    ['010-1234-5678', 'KR', '+821012345678'],
    ['0712 345678', 'KE', '+254712345678'],
    ['082 123 4567', 'ZA', '+27821234567'],
    ['06 12345678', 'NL', '+31612345678'],
    ['312 345 6789', 'IT', '+393123456789'],
    ['8 (912) 345-67-89', 'RU', '+79123456789'],
    ['8 029 491-19-11', 'BY', '+375294911911'],
    ['07797 123456', 'GB', '+447797123456'],
    ['+1 212 555 1234', undefined, '+12125551234'],
    ['+44 07911 123456', undefined, '+447911123456'],
  ])('mobile %s (%s) → %s', (raw, country, e164) => {
    expect(normaliseMobile(raw, country)).toEqual({ ok: true, e164 });
  });

  it.each([
    ['030 1234567', 'DE', '+49301234567'],
    ['06 1234 5678', 'IT', '+390612345678'],
    ['021 123 4567', 'ZA', '+27211234567'],
    ['020 123 4567', 'NL', '+31201234567'],
  ])('landline %s (%s) is formatted, and refused for SMS', (raw, country, e164) => {
    expect(normalisePhone(raw, country)).toEqual({ ok: true, e164 });
    const sms = normaliseMobile(raw, country);
    expect(sms.ok).toBe(false);
    if (!sms.ok) expect(sms.reason).toMatch(/landline/);
  });

  it('gives a number in no allocated range the benefit of the doubt only with a mobile’s length', () => {
    // Ofcom keeps 07700 900xxx for drama; libphonenumber lists no such range.
    expect(normaliseMobile('+447700900123')).toEqual({ ok: true, e164: '+447700900123' });
    expect(normaliseMobile('+44 7700 90012')).toEqual({
      ok: false,
      reason: 'mobile is not a valid +44 mobile number',
    });
    expect(normaliseMobile('+999 1234 5678').ok).toBe(false);
  });

  it('knows every ISO country libphonenumber knows, in any case', () => {
    expect(isSupportedCountry('NG')).toBe(true);
    expect(isSupportedCountry('ng')).toBe(true);
    expect(isSupportedCountry('XX')).toBe(false);
    expect(normaliseMobile('0612345678', 'XX')).toEqual({
      ok: false,
      reason: 'unsupported default country XX',
    });
  });
});

/** Valid numbers of every country, made from its example mobile with random trailing digits. */
const validNumbers = fc
  .record({
    country: fc.constantFrom(...getCountries()),
    tail: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 5, maxLength: 5 }),
    keep: fc.integer({ min: 1, max: 5 }),
  })
  .map(({ country, tail, keep }) => {
    const example = getExampleNumber(country, examples)?.nationalNumber ?? '';
    const cut = Math.max(1, example.length - keep);
    const nsn = example.slice(0, cut) + tail.join('').slice(0, example.length - cut);
    return { country, number: parsePhoneNumberFromString(`+${getCountryCallingCode(country)}${nsn}`) };
  })
  .filter(
    (x): x is { country: CountryCode; number: NonNullable<typeof x.number> } =>
      x.number?.isValid() === true && x.number.country === x.country && x.number.number.length >= 9,
  );

describe('phone normaliser agrees with libphonenumber-js (property)', () => {
  it('types a national number as libphonenumber’s getType does', () => {
    fc.assert(
      fc.property(validNumbers, ({ country, number }) => {
        expect(planOf(country).typeOf(number.nationalNumber)).toBe(number.getType());
      }),
      { numRuns: 3000 },
    );
  });

  it('reads national forms as libphonenumber’s full parser does, and calls the same numbers mobiles', () => {
    fc.assert(
      fc.property(validNumbers, ({ country, number }) => {
        for (const national of [number.formatNational(), number.nationalNumber]) {
          const parsed = parsePhoneNumberFromString(national, country);
          if (parsed?.isValid())
            expect(normalisePhone(national, country)).toEqual({ ok: true, e164: parsed.number });
        }
        const type = number.getType();
        expect(normaliseMobile(number.number).ok).toBe(type === 'MOBILE' || type === 'FIXED_LINE_OR_MOBILE');
      }),
      { numRuns: 3000 },
    );
  });
});
