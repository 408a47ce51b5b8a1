/**
 * A small, pure E.164 normaliser for the countries our customers use most. It does not know every
 * numbering plan (that is what libphonenumber is for); it strips formatting, applies the country
 * calling code and trunk prefix, and checks the national length, which catches typos and
 * truncated cells without a 10 MB dependency.
 */

interface CountryPlan {
  /** Country calling code without `+`. */
  readonly cc: string;
  /** National trunk prefix dropped after the country code (`0` in the UK). */
  readonly trunk?: string;
  /** National significant number length range (digits after the country code). */
  readonly min: number;
  readonly max: number;
}

const PLANS: Readonly<Record<string, CountryPlan>> = {
  GB: { cc: '44', trunk: '0', min: 9, max: 10 },
  IE: { cc: '353', trunk: '0', min: 7, max: 9 },
  US: { cc: '1', trunk: '1', min: 10, max: 10 },
  CA: { cc: '1', trunk: '1', min: 10, max: 10 },
  AU: { cc: '61', trunk: '0', min: 9, max: 9 },
  NZ: { cc: '64', trunk: '0', min: 8, max: 10 },
  DE: { cc: '49', trunk: '0', min: 6, max: 13 },
  FR: { cc: '33', trunk: '0', min: 9, max: 9 },
  NL: { cc: '31', trunk: '0', min: 9, max: 9 },
  BE: { cc: '32', trunk: '0', min: 8, max: 9 },
  LU: { cc: '352', min: 4, max: 11 },
  ES: { cc: '34', min: 9, max: 9 },
  // Italy keeps its leading 0 for landlines; mobiles start with 3. No trunk prefix to drop.
  IT: { cc: '39', min: 6, max: 11 },
  PT: { cc: '351', min: 9, max: 9 },
  CH: { cc: '41', trunk: '0', min: 9, max: 9 },
  AT: { cc: '43', trunk: '0', min: 4, max: 13 },
  SE: { cc: '46', trunk: '0', min: 7, max: 10 },
  NO: { cc: '47', min: 8, max: 8 },
  DK: { cc: '45', min: 8, max: 8 },
  FI: { cc: '358', trunk: '0', min: 5, max: 11 },
  PL: { cc: '48', min: 9, max: 9 },
  CZ: { cc: '420', min: 9, max: 9 },
  IN: { cc: '91', trunk: '0', min: 10, max: 10 },
  SG: { cc: '65', min: 8, max: 8 },
  HK: { cc: '852', min: 8, max: 8 },
  JP: { cc: '81', trunk: '0', min: 9, max: 10 },
  ZA: { cc: '27', trunk: '0', min: 9, max: 9 },
  AE: { cc: '971', trunk: '0', min: 8, max: 9 },
  BR: { cc: '55', trunk: '0', min: 10, max: 11 },
  MX: { cc: '52', min: 10, max: 10 },
};

/** ISO 3166-1 alpha-2 codes the normaliser knows. */
export const SUPPORTED_COUNTRIES: readonly string[] = Object.keys(PLANS);

export function isSupportedCountry(code: string): boolean {
  return Object.hasOwn(PLANS, code.toUpperCase());
}

/** Result of {@link normaliseMobile}: the E.164 number, or why it could not be made one. */
export type PhoneResult = { ok: true; e164: string } | { ok: false; reason: string };

const FORMATTING = /[\s().\-\u00a0\u2010-\u2015/]/g;

/**
 * `07700 900123` with `GB` → `+447700900123`; `+44 (0)7700 900123` → `+447700900123`;
 * `0044…` → `+44…`. Without a country, only international forms are accepted.
 */
const E164 = /^\+[1-9]\d{7,14}$/;

export function normaliseMobile(raw: string, defaultCountry?: string): PhoneResult {
  // Fast path: already E.164 (the common case in clean exports).
  if (E164.test(raw)) return { ok: true, e164: raw };
  let text = raw.trim().replace(/^tel:/i, '');
  // "+44 (0)20 …" is a common UK habit: the (0) is a trunk prefix that must go.
  text = text.replace(/^(\+\d{1,3})\s*\(0\)/, '$1');
  text = text.replace(FORMATTING, '');
  if (text.startsWith('00')) text = `+${text.slice(2)}`;
  if (text.startsWith('+')) {
    const digits = text.slice(1);
    if (!/^\d+$/.test(digits)) return { ok: false, reason: 'mobile contains characters other than digits' };
    if (digits.startsWith('0')) return { ok: false, reason: 'mobile: a country code cannot start with 0' };
    if (digits.length < 8 || digits.length > 15) {
      return { ok: false, reason: `mobile has ${digits.length} digits; E.164 numbers have 8 to 15` };
    }
    return { ok: true, e164: `+${digits}` };
  }
  if (!/^\d+$/.test(text)) return { ok: false, reason: 'mobile contains characters other than digits' };
  if (!defaultCountry) {
    return { ok: false, reason: 'mobile is not in international form (+CC…); set --default-country' };
  }
  const plan = PLANS[defaultCountry.toUpperCase()];
  if (!plan) return { ok: false, reason: `unsupported default country ${defaultCountry}` };
  let national = text;
  if (plan.trunk && national.startsWith(plan.trunk)) {
    national = national.slice(plan.trunk.length);
  } else if (!plan.trunk && national.startsWith(plan.cc) && national.length - plan.cc.length >= plan.min) {
    // Written with the country code but without + or 00 ("4791234567" in Norway).
    national = national.slice(plan.cc.length);
  }
  if (national.length < plan.min || national.length > plan.max) {
    return {
      ok: false,
      reason: `mobile has ${national.length} national digits; ${defaultCountry.toUpperCase()} numbers have ${plan.min === plan.max ? plan.min : `${plan.min} to ${plan.max}`}`,
    };
  }
  return { ok: true, e164: `+${plan.cc}${national}` };
}
