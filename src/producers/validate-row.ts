import { DELIVERY_CHANNELS, type DeliveryChannelName } from '../lib/delivery/channel-names.ts';
import { pickDeliveryChannel, rosterKey } from '../lib/roster/entry.ts';
import type { SourceEntry } from './sources/adapter.ts';
import type { RosterField } from './sources/headers.ts';
import { normaliseMobile } from '../lib/delivery/phone.ts';

/**
 * Turns one source record (field → text) into a {@link SourceEntry}, or says why it cannot.
 * Hand-written rather than a zod parse because it runs a million times per large import; the
 * output always satisfies `rosterEntrySchema` (a unit test checks that with random input).
 */

/** Field → raw text, as read from a CSV row or flattened from a feed record. */
export type RawRecord = Partial<Record<RosterField, string | undefined>>;

export interface ValidateOptions {
  /** Channel given on the command line; written into entries that do not name one. */
  delivery?: DeliveryChannelName;
  /** The configured default (DELIVERY_DEFAULT), used only to decide which fields are required. */
  fallbackDelivery?: DeliveryChannelName;
  /** Channels to fall back to, in order, when a row lacks what its channel needs (`--fallback`). */
  fallbackOrder?: readonly DeliveryChannelName[];
  /** ISO 3166-1 alpha-2 country for national mobile numbers (`--default-country`). */
  defaultCountry?: string;
  /** Today as `YYYY-MM-DD` (UTC); a termination date on or before it marks a leaver. */
  today?: string;
}

/** Why a record was rejected, and its roster key when it had one. */
export interface RowRejection {
  readonly reason: string;
  readonly key?: string;
}

// The same pattern zod's `z.email()` uses, so a row we accept is never refused by the pipeline.
const EMAIL =
  /^(?:[A-Za-z0-9_'+-]+\.)*[A-Za-z0-9_'+-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9][A-Za-z0-9-]*\.)+[A-Za-z]{2,}$/;
/** Longest name, email or system_id we send to DoorFlow. */
export const MAX_FIELD_LENGTH = 255;
const ASCII_PRINTABLE = /^[\x20-\x7e]*$/;
const GROUP_SPLIT = /[;|,\s]+/;
const INACTIVE = new Set([
  'inactive',
  'terminated',
  'leaver',
  'left',
  'no',
  'n',
  'false',
  '0',
  'disabled',
  'deactivated',
  'former',
]);
const CHANNELS: ReadonlySet<string> = new Set(DELIVERY_CHANNELS);

/** Trimmed text, NFC-normalised when not plain ASCII; undefined when empty. */
function text(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  return ASCII_PRINTABLE.test(trimmed) ? trimmed : trimmed.normalize('NFC');
}

function isActive(raw: RawRecord, today: string | undefined): boolean {
  const status = raw.status?.trim().toLowerCase();
  if (status && INACTIVE.has(status)) return false;
  const ended = raw.termination_date?.trim();
  // ISO dates compare as text; BambooHR sends 0000-00-00 for "none".
  if (ended && today && /^\d{4}-\d{2}-\d{2}/.test(ended) && !ended.startsWith('0000')) {
    return ended.slice(0, 10) > today;
  }
  return true;
}

function parseGroups(raw: string): number[] | string {
  const ids: number[] = [];
  for (const part of raw.split(GROUP_SPLIT)) {
    if (part === '') continue;
    if (!/^\d{1,10}$/.test(part) || Number(part) < 1 || Number(part) > 2_147_483_647) {
      return `groups must be DoorFlow group ids (numbers), got ${JSON.stringify(part)}`;
    }
    const id = Number(part);
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

/** Validates and normalises one record. */
export function validateRecord(
  raw: RawRecord,
  line: number,
  options: ValidateOptions,
): SourceEntry | RowRejection {
  const systemId = text(raw.system_id);
  const email = text(raw.email);
  const key = rosterKey({ system_id: systemId, email });

  const firstName = text(raw.first_name);
  const lastName = text(raw.last_name);
  if (!firstName && !lastName) return rejection(key, 'first and last name are required');
  if (!firstName) return rejection(key, 'first name is required');
  if (!lastName) return rejection(key, 'last name is required');
  // DoorFlow refuses such values with a 422; saying so at import beats a dead letter hours later.
  for (const [label, value] of [
    ['first name', firstName],
    ['last name', lastName],
    ['system_id', systemId],
    ['email', email],
  ] as const) {
    if (value !== undefined && value.length > MAX_FIELD_LENGTH)
      return rejection(key, `${label} is longer than ${MAX_FIELD_LENGTH} characters`);
  }
  if (!key) return rejection(key, 'neither system_id nor email: the row has no key');
  if (email !== undefined && !EMAIL.test(email))
    return rejection(key, `invalid email ${JSON.stringify(email)}`);

  let delivery = options.delivery;
  const rowDelivery = raw.delivery?.trim().toLowerCase();
  if (rowDelivery) {
    if (!CHANNELS.has(rowDelivery)) {
      return rejection(
        key,
        `unknown delivery ${JSON.stringify(rowDelivery)} (expected ${DELIVERY_CHANNELS.join(', ')})`,
      );
    }
    delivery = rowDelivery as DeliveryChannelName;
  }
  let effective = delivery ?? options.fallbackDelivery;
  if (effective && options.fallbackOrder && options.fallbackOrder.length > 0) {
    const mobileText = text(raw.mobile);
    const reachable = {
      email: email !== undefined,
      mobile: mobileText !== undefined && normaliseMobile(mobileText, options.defaultCountry).ok,
    };
    const chosen = pickDeliveryChannel(effective, options.fallbackOrder, reachable);
    if (chosen !== effective) {
      delivery = chosen;
      effective = chosen;
    }
  }
  if ((effective === 'doorflow' || effective === 'email') && !email) {
    return rejection(key, `email is required for ${effective} delivery`);
  }

  let mobile = text(raw.mobile);
  if (effective === 'sms') {
    if (!mobile) return rejection(key, 'mobile is required for sms delivery');
    const phone = normaliseMobile(mobile, options.defaultCountry);
    if (!phone.ok) return rejection(key, phone.reason);
    mobile = phone.e164;
  } else if (mobile) {
    // Normalise when we can; otherwise keep what HR typed (DoorFlow stores it as text).
    const phone = normaliseMobile(mobile, options.defaultCountry);
    if (phone.ok) mobile = phone.e164;
  }

  const entry: SourceEntry = { key, first_name: firstName, last_name: lastName, line };
  if (systemId) entry.system_id = systemId;
  if (email) entry.email = email;
  if (mobile) entry.mobile = mobile;
  const department = text(raw.department);
  if (department) entry.department = department;
  const jobTitle = text(raw.job_title);
  if (jobTitle) entry.job_title = jobTitle;
  const groups = text(raw.groups);
  if (groups) {
    const ids = parseGroups(groups);
    if (typeof ids === 'string') return rejection(key, ids);
    if (ids.length > 0) entry.group_ids = ids;
  }
  if (delivery) entry.delivery = delivery;
  if (raw.status !== undefined || raw.termination_date !== undefined)
    entry.active = isActive(raw, options.today);
  return entry;
}

function rejection(key: string | undefined, reason: string): RowRejection {
  return key ? { reason, key } : { reason };
}

export function isRejection(result: SourceEntry | RowRejection): result is RowRejection {
  return (result as { reason?: unknown }).reason !== undefined;
}
