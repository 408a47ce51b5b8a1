import { DELIVERY_CHANNELS, type DeliveryChannelName } from '../lib/delivery/channel-names.ts';
import type { RosterEntry } from '../lib/roster/entry.ts';
import { channelReaches, pickDeliveryChannel, rosterKey } from '../lib/roster/entry.ts';
import type { FetchRosterOptions, SourceEntry } from './sources/adapter.ts';
import { ROSTER_FIELDS, type RosterField } from './sources/headers.ts';
import { normaliseMobile, normalisePhone, type PhoneResult } from '../lib/delivery/phone.ts';

/**
 * The one row validator: turns one source record (field → text) into a {@link SourceEntry}, or
 * says why it cannot. It decides the entry's delivery channel (the run's, the row's own, or the
 * first fallback that reaches the person) and checks what that channel needs, so intake only reads
 * `entry.delivery ?? run.delivery`. Hand-written rather than a zod parse because it runs a million
 * times per large import; its output always satisfies `rosterEntrySchema` (a property test checks
 * both directions).
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

/** The rules a source validates its records by, from what it was asked to fetch. */
export function fetchRules(options: FetchRosterOptions, today: string): ValidateOptions {
  return {
    ...(options.delivery ? { delivery: options.delivery } : {}),
    ...(options.fallbackDelivery ? { fallbackDelivery: options.fallbackDelivery } : {}),
    ...(options.fallbackOrder ? { fallbackOrder: options.fallbackOrder } : {}),
    ...(options.defaultCountry ? { defaultCountry: options.defaultCountry } : {}),
    today,
  };
}

/** Why a record was rejected, and its roster key when it had one. */
export interface RowRejection {
  readonly reason: string;
  readonly key?: string;
}

/**
 * What a refusal is called in a run (`failed: <code>`) when intake validates an entry itself;
 * rows a source refused are recorded as `invalid_entry`.
 */
export type RejectionCode =
  | 'key_missing'
  | 'email_required'
  | 'mobile_required'
  | 'invalid_mobile'
  | 'invalid_entry';

/** An entry intake refused, as the run records it. */
export interface RejectedEntry {
  key: string;
  line: number | undefined;
  code: RejectionCode;
  message: string;
}

// The same pattern zod's `z.email()` uses, so a row we accept is never refused by the pipeline.
const EMAIL =
  /^(?:[A-Za-z0-9_'+-]+\.)*[A-Za-z0-9_'+-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9][A-Za-z0-9-]*\.)+[A-Za-z]{2,}$/;
/**
 * Longest value of a roster field. DoorFlow's spec gives no maxLength for people fields, and its
 * API refuses over-long names with a 422: 255 (a database string column) is the cap for every
 * field, so saying so at import beats a dead letter hours later.
 */
const MAX_FIELD_LENGTH = 255;
/** C0 controls except tab, DEL, and C1 controls (ESC and CSI among them). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL_CHARACTER = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/;
/**
 * The same, but line breaks pass: a quoted CSV field may span lines (an HR export's "Sales
 * ⏎ EMEA" department), and free text keeps them. Every other field refuses them.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL_BUT_LINE_BREAK = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/;
const MULTI_LINE_FIELDS: ReadonlySet<RosterField> = new Set(['department', 'job_title']);

const FIELD_LABELS: Readonly<Partial<Record<RosterField, string>>> = {
  first_name: 'first name',
  last_name: 'last name',
};

/** Why one raw field value is unusable whatever the row: too long, or holding a control character. */
function fieldProblem(field: RosterField, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const label = FIELD_LABELS[field] ?? field;
  if (value.trim().length > MAX_FIELD_LENGTH) return `${label} is longer than ${MAX_FIELD_LENGTH} characters`;
  // The raw value: trim() would hide a vertical tab or form feed at either end.
  const control = (MULTI_LINE_FIELDS.has(field) ? CONTROL_BUT_LINE_BREAK : CONTROL_CHARACTER).exec(value);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    return `${label} holds a control character (U+${code})`;
  }
  return undefined;
}
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

/** Why an entry cannot go through `channel`: the address the channel needs is missing. */
export function channelProblem(
  entry: Partial<RosterEntry>,
  channel: DeliveryChannelName,
): { code: RejectionCode; reason: string } | undefined {
  return missingFor(channel, Boolean(entry.email), Boolean(entry.mobile));
}

const MOBILE_REQUIRED = { code: 'mobile_required', reason: 'mobile is required for sms delivery' } as const;
const EMAIL_REQUIRED = {
  doorflow: { code: 'email_required', reason: 'email is required for doorflow delivery' },
  email: { code: 'email_required', reason: 'email is required for email delivery' },
} as const;

function missingFor(
  channel: DeliveryChannelName,
  email: boolean,
  mobile: boolean,
): { code: RejectionCode; reason: string } | undefined {
  if (channelReaches(channel, { email, mobile })) return undefined;
  return channel === 'sms' ? MOBILE_REQUIRED : channel === 'webhook' ? undefined : EMAIL_REQUIRED[channel];
}

type Reject<R> = (code: RejectionCode, reason: string, key: string | undefined) => R;

/** Validates and normalises one record (`line`: where it came from, for reports). */
export function validateRecord(
  raw: RawRecord,
  line: number,
  options: ValidateOptions,
): SourceEntry | RowRejection {
  return check(raw, line, options, rowRejection);
}

function rowRejection(_code: RejectionCode, reason: string, key: string | undefined): RowRejection {
  return key ? { reason, key } : { reason };
}

export function isRejection(result: SourceEntry | RowRejection): result is RowRejection {
  return (result as { reason?: unknown }).reason !== undefined;
}

function check<R>(
  raw: RawRecord,
  line: number | undefined,
  options: ValidateOptions,
  reject: Reject<R>,
): SourceEntry | R {
  const systemId = text(raw.system_id);
  const email = text(raw.email);
  const key = rosterKey({ system_id: systemId, email });

  // Checked on the raw text of every field, before anything else reads it: a megabyte-long
  // department or an ESC sequence bound for an operator's terminal is refused with its line.
  for (const field of ROSTER_FIELDS) {
    const problem = fieldProblem(field, raw[field]);
    if (problem) return reject('invalid_entry', problem, key);
  }

  const firstName = text(raw.first_name);
  const lastName = text(raw.last_name);
  if (!firstName && !lastName) return reject('invalid_entry', 'first and last name are required', key);
  if (!firstName) return reject('invalid_entry', 'first name is required', key);
  if (!lastName) return reject('invalid_entry', 'last name is required', key);
  if (!key) return reject('key_missing', 'neither system_id nor email: the row has no key', key);
  if (email !== undefined && !EMAIL.test(email))
    return reject('invalid_entry', `invalid email ${JSON.stringify(email)}`, key);

  let delivery = options.delivery;
  const rowDelivery = raw.delivery?.trim().toLowerCase();
  if (rowDelivery) {
    if (!CHANNELS.has(rowDelivery)) {
      return reject(
        'invalid_entry',
        `unknown delivery ${JSON.stringify(rowDelivery)} (expected ${DELIVERY_CHANNELS.join(', ')})`,
        key,
      );
    }
    delivery = rowDelivery as DeliveryChannelName;
  }
  const mobileText = text(raw.mobile);
  // Whether SMS reaches the number: worked out only when a channel choice or SMS needs it.
  let sms: PhoneResult | undefined;
  let effective = delivery ?? options.fallbackDelivery;
  if (effective && options.fallbackOrder && options.fallbackOrder.length > 0) {
    if (mobileText !== undefined) sms = normaliseMobile(mobileText, options.defaultCountry);
    const reachable = { email: email !== undefined, mobile: sms?.ok === true };
    const chosen = pickDeliveryChannel(effective, options.fallbackOrder, reachable);
    if (chosen !== effective) {
      delivery = chosen;
      effective = chosen;
    }
  }
  if (effective) {
    const problem = missingFor(effective, email !== undefined, mobileText !== undefined);
    if (problem) return reject(problem.code, problem.reason, key);
  }

  let mobile = mobileText;
  if (mobileText && effective === 'sms') {
    sms ??= normaliseMobile(mobileText, options.defaultCountry);
    if (!sms.ok) return reject('invalid_mobile', sms.reason, key);
    mobile = sms.e164;
  } else if (mobileText) {
    // DoorFlow requires E.164 when passport is on: a number we cannot normalise is refused here,
    // with its line, rather than sent as HR typed it.
    const phone = normalisePhone(mobileText, options.defaultCountry);
    if (!phone.ok) return reject('invalid_mobile', phone.reason, key);
    mobile = phone.e164;
  }

  const entry: SourceEntry =
    line === undefined
      ? { key, first_name: firstName, last_name: lastName }
      : { key, first_name: firstName, last_name: lastName, line };
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
    if (typeof ids === 'string') return reject('invalid_entry', ids, key);
    if (ids.length > 0) entry.group_ids = ids;
  }
  if (delivery) entry.delivery = delivery;
  if (raw.status !== undefined || raw.termination_date !== undefined)
    entry.active = isActive(raw, options.today);
  return entry;
}

/**
 * Fields a programmatic entry may carry as text: the roster fields but `groups` (an entry carries
 * `group_ids`) and the leaver markers (an entry handed to intake is active).
 */
const NOT_ENTRY_TEXT: readonly RosterField[] = ['groups', 'status', 'termination_date'];
const TEXT_FIELDS = ROSTER_FIELDS.filter((field) => !NOT_ENTRY_TEXT.includes(field));

/**
 * The row validator for an entry handed to intake as an object (`{ system_id, first_name, …,
 * group_ids: [1, 2], line }`) rather than read by a source: the same rules, with refusals named by
 * {@link RejectionCode}. `index` numbers entries without a `line` for their fallback key.
 */
export function validateEntry(
  value: unknown,
  index: number,
  options: ValidateOptions = {},
): { entry: SourceEntry } | { rejected: RejectedEntry } {
  const obj: Partial<Record<string, unknown>> = value && typeof value === 'object' ? { ...value } : {};
  const line = typeof obj.line === 'number' ? obj.line : undefined;
  const refuse = (code: RejectionCode, message: string, key: string | undefined) => ({
    rejected: { key: key ?? `line:${line ?? index + 1}`, line, code, message },
  });
  if (obj.line !== undefined && (line === undefined || !Number.isInteger(line) || line < 1)) {
    return refuse('invalid_entry', 'line: expected a positive whole number', undefined);
  }
  const raw: RawRecord = {};
  for (const field of TEXT_FIELDS) {
    const v = obj[field];
    if (typeof v === 'string') raw[field] = v;
    else if (v !== undefined && v !== null)
      return refuse('invalid_entry', `${field}: expected text`, undefined);
  }
  const groups = obj.group_ids;
  if (Array.isArray(groups)) raw.groups = groups.map(String).join(',');
  else if (groups !== undefined && groups !== null) {
    return refuse('invalid_entry', 'group_ids: expected a list of DoorFlow group ids', undefined);
  }
  const result = check(raw, line, options, refuse);
  return 'rejected' in result ? result : { entry: result };
}
