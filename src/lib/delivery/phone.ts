import type { CountryCode, PhoneNumber, PhoneNumberType } from 'libphonenumber-js/max';
import { phoneLib } from './phone-lib.ts';
import { type CountryPlan, plansFor, plansFrom } from './phone-plans.ts';

/**
 * The one phone normaliser: a number as HR typed it → E.164, and whether an SMS can reach it.
 * Every country's numbering plan (calling code, trunk prefix, lengths, which ranges are mobile)
 * comes from libphonenumber-js's full metadata.
 *
 * National numbers are read the plain way first (trunk prefix + national number, or written with
 * the calling code but no `+`), which is cheap enough for a million-row import; only a number that
 * does not fit gets libphonenumber's full parser (carrier codes, local dialling forms).
 */

/** Result of {@link normaliseMobile}: the E.164 number, or why it could not be made one. */
export type PhoneResult = { ok: true; e164: string } | { ok: false; reason: string };

/** Whether libphonenumber knows the ISO 3166-1 alpha-2 code (any case): `--default-country`. */
export function isSupportedCountry(code: string): boolean {
  return phoneLib().isSupportedCountry(code.toUpperCase());
}

const E164 = /^\+[1-9]\d{7,14}$/;
const FORMATTING = /[\s().\-\u00a0\u2010-\u2015/]/g;
const DIGITS = /^\d+$/;

/** A number read into E.164, with its national number and the plans of its calling code. */
interface Reading {
  readonly e164: string;
  readonly national: string;
  /** Every country of the calling code (the default country first, for national input). */
  readonly plans: readonly CountryPlan[];
  /** For messages: the default country, else `+CC`. */
  readonly where: string;
}

type Refusal = { ok: false; reason: string };

function refuse(reason: string): Refusal {
  return { ok: false, reason };
}

function lengthsText(lengths: readonly number[]): string {
  const min = lengths[0];
  const max = lengths[lengths.length - 1];
  return min === max ? String(min) : `${min} to ${max}`;
}

/** An E.164 number split by libphonenumber, when some country uses its calling code. */
function international(e164: string, possibleOnly: boolean): Reading | undefined {
  let number: PhoneNumber;
  try {
    number = phoneLib().phoneNumber(e164);
  } catch {
    // The constructor throws for a calling code no country uses.
    return undefined;
  }
  if (possibleOnly && !number.isPossible()) return undefined;
  const cc = number.countryCallingCode;
  return { e164, national: number.nationalNumber, plans: plansFor(cc), where: `+${cc}` };
}

/** libphonenumber's full parse, kept only when it finds a number in a known range. */
function fullParse(text: string, country?: CountryCode): Reading | undefined {
  const parsed = phoneLib().parse(text, country);
  if (!parsed?.isValid()) return undefined;
  return international(parsed.number, false);
}

/**
 * National digits read the plain way, when they have one of `lengths`: after a trunk prefix (a
 * number typed with one is never read with it), as typed, or after the calling code written
 * without + or 00 ("4791234567" in Norway).
 */
function plainReading(plan: CountryPlan, text: string, lengths: readonly number[]): string | undefined {
  let trunked = false;
  for (const trunk of plan.trunks) {
    if (!text.startsWith(trunk)) continue;
    if (lengths.includes(text.length - trunk.length)) return text.slice(trunk.length);
    trunked = true;
  }
  if (!trunked && lengths.includes(text.length)) return text;
  if (text.startsWith(plan.cc) && lengths.includes(text.length - plan.cc.length)) {
    return text.slice(plan.cc.length);
  }
  return undefined;
}

function read(raw: string, defaultCountry: string | undefined): Reading | Refusal {
  // Fast path: already E.164 (the common case in clean exports).
  let text = raw;
  if (!E164.test(raw)) {
    text = raw.trim().replace(/^tel:/i, '');
    // "+44 (0)20 …" is a common UK habit: the (0) is a trunk prefix that must go.
    text = text.replace(/^(\+\d{1,3})\s*\(0\)/, '$1');
    text = text.replace(FORMATTING, '');
    if (text.startsWith('00')) text = `+${text.slice(2)}`;
  }
  if (text.startsWith('+')) {
    const digits = text.slice(1);
    if (!DIGITS.test(digits)) return refuse('mobile contains characters other than digits');
    if (digits.startsWith('0')) return refuse('mobile: a country code cannot start with 0');
    if (digits.length < 8 || digits.length > 15) {
      return refuse(`mobile has ${digits.length} digits; E.164 numbers have 8 to 15`);
    }
    const reading = international(text, true) ?? fullParse(text);
    return reading ?? refuse('mobile is not a possible phone number (check the country code and length)');
  }
  if (!DIGITS.test(text)) return refuse('mobile contains characters other than digits');
  if (!defaultCountry) {
    return refuse('mobile is not in international form (+CC…); set --default-country');
  }
  const country = defaultCountry.toUpperCase();
  const plans = plansFrom(country);
  const plan = plans[0];
  if (!plan) return refuse(`unsupported default country ${defaultCountry}`);
  // A landline's or mobile's length first: a 12-digit Indian "number" is the code plus 10 digits.
  const digits = plainReading(plan, text, plan.subscriber) ?? plainReading(plan, text, plan.possible);
  if (digits !== undefined) return { e164: `+${plan.cc}${digits}`, national: digits, plans, where: country };
  const parsed = fullParse(text, plan.country);
  if (parsed) return parsed;
  const trunk = plan.trunks.find((prefix) => text.startsWith(prefix)) ?? '';
  const national = text.slice(trunk.length);
  if (!plan.subscriber.includes(national.length)) {
    return refuse(
      `mobile has ${national.length} national digits; ${country} numbers have ${lengthsText(plan.subscriber)}`,
    );
  }
  return refuse(`mobile is not a possible ${country} number`);
}

/**
 * E.164 form of a phone number of any kind (landline or mobile), or why it has none: for a number
 * kept as information. {@link normaliseMobile} when a text must reach it.
 */
export function normalisePhone(raw: string, defaultCountry?: string): PhoneResult {
  const reading = read(raw, defaultCountry);
  return 'e164' in reading ? { ok: true, e164: reading.e164 } : reading;
}

const NOT_MOBILE: Partial<Record<PhoneNumberType, string>> = {
  FIXED_LINE: 'a landline (fixed-line) number',
  TOLL_FREE: 'a toll-free number',
  PREMIUM_RATE: 'a premium-rate number',
  SHARED_COST: 'a shared-cost number',
  VOIP: 'a VoIP number',
  PERSONAL_NUMBER: 'a personal (follow-me) number',
  PAGER: 'a pager number',
  UAN: 'a company (UAN) number',
  VOICEMAIL: 'a voicemail access number',
};

/**
 * `07700 900123` with `GB` → `+447700900123`; `+44 (0)7700 900123` → `+447700900123`;
 * `0044…` → `+44…`; `0803 123 4567` with `NG` → `+2348031234567`. Without a country, only
 * international forms are accepted. A number the numbering plan puts in a landline, toll-free or
 * other non-mobile range is refused (`020 7946 0958` is a London landline). A number in no
 * allocated range (newer than the metadata, or reserved like Ofcom's drama range 07700 900xxx)
 * passes when it has a mobile's length: the SMS provider has the last word.
 */
export function normaliseMobile(raw: string, defaultCountry?: string): PhoneResult {
  const reading = read(raw, defaultCountry);
  if (!('e164' in reading)) return reading;
  const { e164, national, plans, where } = reading;
  let other: PhoneNumberType | undefined;
  for (const plan of plans) {
    const type = plan.typeOf(national);
    if (type === 'MOBILE' || type === 'FIXED_LINE_OR_MOBILE') return { ok: true, e164 };
    other ??= type;
  }
  if (other !== undefined) {
    return refuse(`mobile is ${NOT_MOBILE[other] ?? 'not a mobile number'}; SMS needs a mobile`);
  }
  if (plans.some((plan) => plan.mobile.includes(national.length))) return { ok: true, e164 };
  return refuse(`mobile is not a valid ${where} mobile number`);
}
