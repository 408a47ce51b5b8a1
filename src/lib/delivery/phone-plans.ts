import type { CountryCode, Metadata, NumberingPlan, PhoneNumberType } from 'libphonenumber-js/max';
import { phoneLib } from './phone-lib.ts';

/**
 * What libphonenumber-js's full metadata says about one country's numbering plan, read once per
 * country: calling code, trunk prefix, number lengths, and the type of a national number.
 *
 * `typeOf` is libphonenumber's own `getNumberType` over the same patterns, compiled once: the
 * library builds a RegExp from the pattern text on every call, which costs 15–25 µs for a UK
 * number against ~1 µs here, and an import checks a million rows.
 */

export interface CountryPlan {
  readonly country: CountryCode;
  /** Calling code without `+`. */
  readonly cc: string;
  /**
   * Prefixes dialled before national numbers, longest first: `0` in the UK (and `180020` for text
   * relay), `8` and `80` in Belarus. Prefixes with carrier codes are left to the full parser.
   */
  readonly trunks: readonly string[];
  /** National number lengths of any kind (what libphonenumber calls possible). */
  readonly possible: readonly number[];
  /** National number lengths of landlines and mobiles, ascending (for messages). */
  readonly subscriber: readonly number[];
  /** National number lengths of mobiles. */
  readonly mobile: readonly number[];
  /** The type of a national number by the plan's ranges; undefined when it is in none. */
  typeOf(nationalNumber: string): PhoneNumberType | undefined;
}

/** The per-type part of libphonenumber's `Metadata` (used by its own `getType`), left out of its typings. */
interface TypeDescription {
  pattern(): string | undefined;
  possibleLengths(): number[] | undefined;
}
interface TypedPlan {
  nationalNumberPattern(): string;
  // Absent values come back as undefined or 0, depending on the metadata's packing.
  nationalPrefix(): unknown;
  nationalPrefixForParsing(): unknown;
  type(name: PhoneNumberType): TypeDescription | undefined;
}

function hasTypes(plan: NumberingPlan): plan is NumberingPlan & TypedPlan {
  return (
    'type' in plan &&
    typeof plan.type === 'function' &&
    'nationalPrefix' in plan &&
    typeof plan.nationalPrefix === 'function' &&
    'nationalPrefixForParsing' in plan &&
    typeof plan.nationalPrefixForParsing === 'function' &&
    'nationalNumberPattern' in plan &&
    typeof plan.nationalNumberPattern === 'function'
  );
}

/** libphonenumber's order: fixed line first (it may double as mobile), then these. */
const OTHER_TYPES: readonly PhoneNumberType[] = [
  'MOBILE',
  'PREMIUM_RATE',
  'TOLL_FREE',
  'SHARED_COST',
  'VOIP',
  'PERSONAL_NUMBER',
  'PAGER',
  'UAN',
  'VOICEMAIL',
];

interface CompiledType {
  readonly pattern: RegExp | undefined;
  readonly lengths: readonly number[] | undefined;
}

function whole(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

function compileTypes(plan: TypedPlan): (nationalNumber: string) => PhoneNumberType | undefined {
  const general = whole(plan.nationalNumberPattern());
  const types = new Map<PhoneNumberType, CompiledType>();
  for (const name of ['FIXED_LINE', ...OTHER_TYPES] as const) {
    const description = plan.type(name);
    const pattern = description?.pattern();
    if (pattern) types.set(name, { pattern: whole(pattern), lengths: description?.possibleLengths() });
  }
  // An empty mobile pattern was dropped from the metadata as a duplicate of the fixed-line one.
  const mobileIsFixed = !plan.type('MOBILE')?.pattern();
  const matches = (name: PhoneNumberType, nationalNumber: string): boolean => {
    const type = types.get(name);
    if (!type?.pattern) return false;
    if (type.lengths && !type.lengths.includes(nationalNumber.length)) return false;
    return type.pattern.test(nationalNumber);
  };
  return (nationalNumber) => {
    if (!general.test(nationalNumber)) return undefined;
    if (matches('FIXED_LINE', nationalNumber)) {
      return mobileIsFixed || matches('MOBILE', nationalNumber) ? 'FIXED_LINE_OR_MOBILE' : 'FIXED_LINE';
    }
    return OTHER_TYPES.find((name) => matches(name, nationalNumber));
  };
}

/** The national prefix and the plain-digit alternatives of the pattern for parsing it (`80?`: 80, 8). */
function trunksOf(plan: TypedPlan): string[] {
  const found = new Set<string>();
  const prefix = plan.nationalPrefix();
  if (typeof prefix === 'string' && prefix !== '') found.add(prefix);
  const parsing = plan.nationalPrefixForParsing();
  const forParsing = typeof parsing === 'string' ? parsing : '';
  // Alternatives with groups carry carrier codes or rewrite the number: the full parser's job.
  if (!forParsing.includes('(')) {
    for (const alternative of forParsing.split('|')) {
      const optionalLast = /^(\d+)(\d)\?$/.exec(alternative);
      if (optionalLast?.[1] && optionalLast[2]) {
        found.add(optionalLast[1]);
        found.add(optionalLast[1] + optionalLast[2]);
      } else if (/^\d+$/.test(alternative)) found.add(alternative);
    }
  }
  return [...found].sort((a, b) => b.length - a.length);
}

let metadata: Metadata | undefined;
const plans = new Map<CountryCode, CountryPlan>();

export function planOf(country: CountryCode): CountryPlan {
  const known = plans.get(country);
  if (known) return known;
  const lib = phoneLib();
  metadata ??= lib.metadata();
  metadata.selectNumberingPlan(country);
  const numbering = metadata.numberingPlan;
  const cc = lib.getCountryCallingCode(country);
  const possible = numbering?.possibleLengths() ?? [];
  let plan: CountryPlan;
  if (numbering && hasTypes(numbering)) {
    const mobile = numbering.type('MOBILE')?.possibleLengths() ?? possible;
    const fixed = numbering.type('FIXED_LINE')?.possibleLengths() ?? possible;
    plan = {
      country,
      cc,
      trunks: trunksOf(numbering),
      possible,
      subscriber: [...new Set([...fixed, ...mobile])].sort((a, b) => a - b),
      mobile,
      typeOf: compileTypes(numbering),
    };
  } else {
    // A libphonenumber without the per-type metadata API: its public (slower) type lookup.
    plan = {
      country,
      cc,
      trunks: [],
      possible,
      subscriber: possible,
      mobile: possible,
      typeOf: (nationalNumber) => lib.phoneNumber(`+${cc}${nationalNumber}`).getType(),
    };
  }
  plans.set(country, plan);
  return plan;
}

let countriesByCode: Map<string, CountryCode[]> | undefined;
const plansByCode = new Map<string, readonly CountryPlan[]>();
const plansByCountry = new Map<string, readonly CountryPlan[]>();

/** The countries sharing a calling code (`44`: GB, GG, IM, JE). */
export function plansFor(callingCode: string): readonly CountryPlan[] {
  const known = plansByCode.get(callingCode);
  if (known) return known;
  if (!countriesByCode) {
    countriesByCode = new Map();
    const lib = phoneLib();
    for (const country of lib.getCountries()) {
      const cc = lib.getCountryCallingCode(country);
      countriesByCode.set(cc, [...(countriesByCode.get(cc) ?? []), country]);
    }
  }
  const found = (countriesByCode.get(callingCode) ?? []).map(planOf);
  plansByCode.set(callingCode, found);
  return found;
}

/**
 * The plans a national number of `country` (ISO code, upper case) may belong to: its own first,
 * then the others of its calling code; none for a code libphonenumber does not know.
 */
export function plansFrom(country: string): readonly CountryPlan[] {
  const known = plansByCountry.get(country);
  if (known) return known;
  if (!phoneLib().isSupportedCountry(country)) return [];
  const own = planOf(country);
  const found = [own, ...plansFor(own.cc).filter((other) => other !== own)];
  plansByCountry.set(country, found);
  return found;
}
