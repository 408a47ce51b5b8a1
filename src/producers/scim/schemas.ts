/**
 * The SCIM discovery documents (RFC 7643 §5–§7, RFC 7644 §4): what this service provider
 * supports, declared once here and honoured by the routes. Groups, bulk, sorting, password change
 * and ETags are declared unsupported; `/Groups` and `/Bulk` answer 501 accordingly.
 */

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
/** Ours: the pass as our store knows it, read-only (what the IdP may show next to the user). */
export const PASS_SCHEMA = 'urn:doorflow-provisioner:params:scim:schemas:extension:2.0:User';
const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

/** Most resources one list response returns (`count` is capped to it). */
export const MAX_RESULTS = 200;

interface AttributeOptions {
  type?: 'string' | 'boolean' | 'complex' | 'dateTime';
  multiValued?: boolean;
  required?: boolean;
  caseExact?: boolean;
  mutability?: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned?: 'always' | 'default' | 'never' | 'request';
  uniqueness?: 'none' | 'server' | 'global';
  subAttributes?: Record<string, unknown>[];
  canonicalValues?: string[];
}

function attribute(name: string, description: string, o: AttributeOptions = {}): Record<string, unknown> {
  return {
    name,
    type: o.type ?? 'string',
    multiValued: o.multiValued ?? false,
    description,
    required: o.required ?? false,
    caseExact: o.caseExact ?? false,
    mutability: o.mutability ?? 'readWrite',
    returned: o.returned ?? 'default',
    uniqueness: o.uniqueness ?? 'none',
    ...(o.subAttributes ? { subAttributes: o.subAttributes } : {}),
    ...(o.canonicalValues ? { canonicalValues: o.canonicalValues } : {}),
  };
}

function multiValued(name: string, description: string, types: string[]): Record<string, unknown> {
  return attribute(name, description, {
    type: 'complex',
    multiValued: true,
    subAttributes: [
      attribute('value', `The ${name} value.`),
      attribute('type', 'A label for the value.', { canonicalValues: types }),
      attribute('primary', 'The primary value.', { type: 'boolean' }),
    ],
  });
}

const userAttributes = [
  attribute('userName', 'Unique identifier for the User, typically the work email.', {
    required: true,
    uniqueness: 'server',
  }),
  attribute('name', "The components of the user's name.", {
    type: 'complex',
    subAttributes: [
      attribute('formatted', 'The full name.'),
      attribute('familyName', 'The family name (DoorFlow last name).'),
      attribute('givenName', 'The given name (DoorFlow first name).'),
    ],
  }),
  attribute('displayName', 'The name displayed to end users.'),
  attribute('title', "The user's title (DoorFlow job title)."),
  attribute('active', "The user's administrative status: false offboards the person.", { type: 'boolean' }),
  multiValued('emails', 'Email addresses; the work one is the person’s email.', ['work', 'home', 'other']),
  multiValued('phoneNumbers', 'Phone numbers; the mobile one is the person’s mobile.', [
    'work',
    'mobile',
    'other',
  ]),
];

const enterpriseAttributes = [
  attribute('employeeNumber', 'The employee number (DoorFlow system_id when there is no externalId).'),
  attribute('department', 'The department.'),
];

const passAttributes = [
  attribute(
    'passStatus',
    'The HID Mobile Access pass: none, pending, invited, active, revoking or revoked.',
    {
      mutability: 'readOnly',
    },
  ),
  attribute('pending', 'A change of this user is still on its way through the pipeline.', {
    type: 'boolean',
    mutability: 'readOnly',
  }),
];

function meta(resourceType: string, location: string): Record<string, unknown> {
  return { resourceType, location };
}

export function serviceProviderConfig(base: string): Record<string, unknown> {
  return {
    schemas: [SPC_SCHEMA],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: 'The SCIM_TOKEN as `Authorization: Bearer …`',
        primary: true,
      },
    ],
    meta: meta('ServiceProviderConfig', `${base}/ServiceProviderConfig`),
  };
}

export function resourceTypes(base: string): Record<string, unknown>[] {
  return [
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'A person who gets an HID Mobile Access pass',
      schema: USER_SCHEMA,
      schemaExtensions: [
        { schema: ENTERPRISE_SCHEMA, required: false },
        { schema: PASS_SCHEMA, required: false },
      ],
      meta: meta('ResourceType', `${base}/ResourceTypes/User`),
    },
  ];
}

export function schemas(base: string): Record<string, unknown>[] {
  const schema = (id: string, name: string, description: string, attributes: Record<string, unknown>[]) => ({
    schemas: [SCHEMA_SCHEMA],
    id,
    name,
    description,
    attributes,
    meta: meta('Schema', `${base}/Schemas/${id}`),
  });
  return [
    schema(USER_SCHEMA, 'User', 'User Account', userAttributes),
    schema(ENTERPRISE_SCHEMA, 'EnterpriseUser', 'Enterprise User', enterpriseAttributes),
    schema(PASS_SCHEMA, 'DoorFlowPass', 'The HID Mobile Access pass (read-only)', passAttributes),
  ];
}

/** A list response (RFC 7644 §3.4.2). */
export function listResponse(
  resources: readonly Record<string, unknown>[],
  totalResults: number,
  startIndex: number,
): Record<string, unknown> {
  return {
    schemas: [LIST_SCHEMA],
    totalResults,
    startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}
