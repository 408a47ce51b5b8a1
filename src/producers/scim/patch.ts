import { ScimError as PatchLibraryError, type ScimPatchOperation, scimPatch } from 'scim-patch';
import { PATCH_SCHEMA, USER_SCHEMA } from './schemas.ts';
import { ScimError, type ScimType } from './scim-error.ts';
import { attr, normaliseAttributes } from './user-resource.ts';

/**
 * `PATCH /Users/{id}` (RFC 7644 §3.5.2), applied by scim-patch. Before it runs, the forms the IdPs
 * really send are brought to the RFC's: an operation without a path whose value object names
 * attributes by path (`{"name.givenName": "Ada"}`, Entra) or by extension URN
 * (`{"urn:…:enterprise:2.0:User": {"employeeNumber": "1"}}`) becomes one operation per path, and
 * after it `active` is made a boolean again (Entra sends `"False"`). Capitalised ops (`Replace`)
 * are the library's.
 */

type Attributes = Record<string, unknown>;

const SCIM_TYPES: readonly ScimType[] = [
  'invalidSyntax',
  'invalidPath',
  'noTarget',
  'invalidValue',
  'mutability',
];

function isObject(value: unknown): value is Attributes {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The body's operations, checked (schemas, a non-empty `Operations` list of objects). */
function operationsOf(body: unknown): Attributes[] {
  const schemas = attr(body, 'schemas');
  if (!Array.isArray(schemas) || !schemas.includes(PATCH_SCHEMA)) {
    throw new ScimError(400, `a PATCH body must list the schema ${PATCH_SCHEMA}`, 'invalidSyntax');
  }
  const operations = attr(body, 'Operations');
  if (!Array.isArray(operations) || operations.length === 0 || !operations.every(isObject)) {
    throw new ScimError(400, 'a PATCH body needs a non-empty Operations list', 'invalidSyntax');
  }
  return operations;
}

/** One operation, its path-less value object split by the paths its keys name. */
function expand(operation: Attributes): Attributes[] {
  const op = attr(operation, 'op');
  const path = attr(operation, 'path');
  const value = attr(operation, 'value');
  if (path !== undefined || !isObject(value)) return [{ op, path, value }];
  const expanded: Attributes[] = [];
  const rest: Attributes = {};
  for (const [key, inner] of Object.entries(value)) {
    if (key.toLowerCase().startsWith('urn:') && isObject(inner)) {
      // An extension's attributes by URN: each one its own path (`urn:…:User:employeeNumber`).
      for (const [name, v] of Object.entries(inner)) expanded.push({ op, path: `${key}:${name}`, value: v });
    } else if (key.includes('.') || key.toLowerCase().startsWith('urn:')) {
      expanded.push({ op, path: key, value: inner });
    } else {
      rest[key] = inner;
    }
  }
  if (Object.keys(rest).length > 0) expanded.unshift({ op, value: rest });
  return expanded;
}

function toScimError(err: PatchLibraryError): ScimError {
  const code = SCIM_TYPES.find((t) => t === err.scimCode) ?? 'invalidValue';
  const status = 400;
  return new ScimError(status, `the PATCH operation cannot be applied (${err.name})`, code);
}

/** An operation checked and typed for the library. */
function typed(operation: Attributes): ScimPatchOperation {
  const op = String(operation.op ?? '').toLowerCase();
  const { path, value } = operation;
  if (path !== undefined && typeof path !== 'string') {
    throw new ScimError(400, 'path must be a string', 'invalidPath');
  }
  if (typeof path === 'string' && /^(id|meta)(\.|$)/i.test(path)) {
    throw new ScimError(400, `${path} is set by the service provider`, 'mutability');
  }
  if (op === 'remove') {
    // RFC 7644 §3.5.2.2: a remove without a path is a 400 noTarget.
    if (path === undefined) throw new ScimError(400, 'a remove operation needs a path', 'noTarget');
    return value === undefined ? { op, path } : { op, path, value };
  }
  if (op !== 'add' && op !== 'replace') {
    throw new ScimError(400, 'op must be add, replace or remove', 'invalidSyntax');
  }
  if (value === undefined) throw new ScimError(400, `an ${op} operation needs a value`, 'invalidValue');
  return path === undefined ? { op, value } : { op, path, value };
}

/** The user's attributes after the PATCH body's operations, normalised for storing. */
export function applyPatch(attributes: Attributes, body: unknown): Attributes {
  const operations = operationsOf(body).flatMap(expand).map(typed);
  const resource = {
    ...structuredClone(attributes),
    schemas: [USER_SCHEMA],
    meta: { created: new Date(0), lastModified: new Date(0) },
  };
  let patched: Attributes;
  try {
    patched = scimPatch(resource, operations, { mutateDocument: false, treatMissingAsAdd: true });
  } catch (err) {
    if (err instanceof PatchLibraryError) throw toScimError(err);
    throw err;
  }
  return normaliseAttributes(patched);
}
