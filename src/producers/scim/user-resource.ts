import { ENTERPRISE_SCHEMA, PASS_SCHEMA, USER_SCHEMA } from './schemas.ts';
import { ScimError } from './scim-error.ts';

/**
 * A SCIM User as the IdP sends it ↔ the roster fields the pipeline knows. Attribute names are
 * case-insensitive in SCIM (RFC 7643 §2.1), so every read goes through {@link attr}. The mapping:
 * `externalId`, else the enterprise `employeeNumber` → `system_id`; the work email, else a
 * `userName` that is an email, else the primary email → `email`; `name.givenName` /
 * `name.familyName` → first / last name; the mobile phone number (else the work one) →
 * `mobile`; `title` → job title; the enterprise `department` → department.
 */

type Attributes = Record<string, unknown>;

/** Read-only or server-set attributes a client may send and we never store (RFC 7643 §3.1). */
const SERVER_SET = new Set(['id', 'meta', PASS_SCHEMA.toLowerCase()]);

export function attr(obj: unknown, name: string): unknown {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const wanted = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === wanted);
  return key === undefined ? undefined : (obj as Attributes)[key];
}

function text(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** `active` as a boolean: Entra sends the strings "True" / "False". Absent means active (RFC 7643 §4.1.1 leaves it to us). */
export function isActive(attributes: Attributes): boolean {
  const active = attr(attributes, 'active');
  if (typeof active === 'string') return active.trim().toLowerCase() !== 'false';
  return active !== false;
}

/**
 * What we store of a resource the IdP sent: without server-set attributes, `active` a real
 * boolean, `schemas` naming the extensions in use.
 */
export function normaliseAttributes(input: Attributes): Attributes {
  const out: Attributes = {};
  for (const [name, value] of Object.entries(input)) {
    if (SERVER_SET.has(name.toLowerCase())) continue;
    out[name] = value;
  }
  const activeKey = Object.keys(out).find((k) => k.toLowerCase() === 'active');
  if (activeKey !== undefined) {
    const value = out[activeKey];
    delete out[activeKey];
    out.active = isActive({ active: value });
  }
  const hasEnterprise = attr(out, ENTERPRISE_SCHEMA) !== undefined;
  out.schemas = hasEnterprise ? [USER_SCHEMA, ENTERPRISE_SCHEMA] : [USER_SCHEMA];
  return out;
}

export function userNameOf(attributes: Attributes): string {
  const userName = text(attr(attributes, 'userName'));
  if (!userName) throw new ScimError(400, 'userName is required', 'invalidValue');
  return userName;
}

/** The `value` of the multi-valued attribute's entry of `type` (first match), else undefined. */
function typed(attributes: Attributes, name: string, type: string): string | undefined {
  const list = attr(attributes, name);
  if (!Array.isArray(list)) return undefined;
  const found = list.find((item) => text(attr(item, 'type'))?.toLowerCase() === type);
  return text(attr(found, 'value'));
}

function primaryOrFirst(attributes: Attributes, name: string): string | undefined {
  const list = attr(attributes, name);
  if (!Array.isArray(list)) return undefined;
  const primary = list.find((item) => attr(item, 'primary') === true || attr(item, 'primary') === 'True');
  return text(attr(primary ?? list[0], 'value'));
}

/** The roster fields of a SCIM user, for the row validator (`validateEntry`). */
export function rosterFieldsOf(attributes: Attributes): Record<string, string> {
  const enterprise = attr(attributes, ENTERPRISE_SCHEMA);
  const name = attr(attributes, 'name');
  const userName = text(attr(attributes, 'userName'));
  const fields: Record<string, string | undefined> = {
    system_id: text(attr(attributes, 'externalId')) ?? text(attr(enterprise, 'employeeNumber')),
    first_name: text(attr(name, 'givenName')),
    last_name: text(attr(name, 'familyName')),
    email:
      typed(attributes, 'emails', 'work') ??
      (userName?.includes('@') ? userName : undefined) ??
      primaryOrFirst(attributes, 'emails'),
    mobile: typed(attributes, 'phoneNumbers', 'mobile') ?? typed(attributes, 'phoneNumbers', 'work'),
    job_title: text(attr(attributes, 'title')),
    department: text(attr(enterprise, 'department')),
  };
  return Object.fromEntries(Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined));
}

/** The pass as our store knows it (no DoorFlow call): see PASS_SCHEMA. */
export interface PassView {
  passStatus: string;
  pending: boolean;
}

/** The resource the IdP reads back (RFC 7643 §3.1 `id` and `meta` added). */
export function renderUser(
  record: {
    id: string;
    created: number;
    lastModified: number;
    attributes: Attributes;
  },
  location: string,
  pass: PassView,
): Attributes {
  const base = record.attributes;
  const schemas = Array.isArray(base.schemas) ? [...(base.schemas as string[]), PASS_SCHEMA] : [USER_SCHEMA];
  return {
    ...base,
    schemas,
    id: record.id,
    active: isActive(base),
    [PASS_SCHEMA]: pass,
    meta: {
      resourceType: 'User',
      created: new Date(record.created).toISOString(),
      lastModified: new Date(record.lastModified).toISOString(),
      location,
    },
  };
}
