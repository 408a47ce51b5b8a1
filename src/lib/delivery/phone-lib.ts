import { createRequire } from 'node:module';
import type { CountryCode, E164Number, Metadata, MetadataJson, PhoneNumber } from 'libphonenumber-js/core';

/**
 * libphonenumber-js with its full metadata, loaded on the first phone number read: the ~150 KB
 * of metadata cost ~0.1 s and ~12 MB to load, which a roster without phone numbers, `--help` and
 * the other commands should not pay. Its CommonJS build is what allows a synchronous lazy load
 * inside the row validator; there the metadata is passed explicitly (the `core` entry point).
 */
export interface PhoneLib {
  isSupportedCountry(country: string): country is CountryCode;
  getCountries(): CountryCode[];
  getCountryCallingCode(country: CountryCode): string;
  /** An E.164 number split into calling code and national number; throws for an unused code. */
  phoneNumber(e164: string): PhoneNumber;
  parse(text: string, country?: CountryCode): PhoneNumber | undefined;
  metadata(): Metadata;
}

type Core = typeof import('libphonenumber-js/core');

let loaded: PhoneLib | undefined;

export function phoneLib(): PhoneLib {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const core = require('libphonenumber-js/core') as Core;
  const json = require('libphonenumber-js/metadata.max.json') as MetadataJson;
  loaded = {
    // libphonenumber answers for any text; its core typings only ask for the narrower type.
    isSupportedCountry: (country): country is CountryCode =>
      core.isSupportedCountry(country as CountryCode, json),
    getCountries: () => core.getCountries(json),
    getCountryCallingCode: (country) => core.getCountryCallingCode(country, json),
    phoneNumber: (e164) => new core.PhoneNumber(e164 as E164Number, json),
    parse: (text, country) =>
      country
        ? core.parsePhoneNumberFromString(text, country, json)
        : core.parsePhoneNumberFromString(text, json),
    metadata: () => new core.Metadata(json),
  };
  return loaded;
}
