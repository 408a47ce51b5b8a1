/** A small SCIM client for tests: JSON in, status + parsed body + headers out. */

export const SCIM_TEST_TOKEN = 'scim-test-token-5b0c9a1e7d2f4c6a8e3b1d9f0a2c4e6b';
export const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

export interface ScimReply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test bodies are read field by field
  body: any;
  headers: Headers;
}

export function scimClient(base: string, token: string = SCIM_TEST_TOKEN) {
  const call = async (method: string, path: string, body?: unknown, raw?: string): Promise<ScimReply> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined || raw !== undefined ? { 'content-type': 'application/scim+json' } : {}),
      },
      ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
  return {
    get: (path: string) => call('GET', path),
    post: (path: string, body: unknown) => call('POST', path, body),
    postRaw: (path: string, raw: string) => call('POST', path, undefined, raw),
    put: (path: string, body: unknown) => call('PUT', path, body),
    patch: (path: string, body: unknown) => call('PATCH', path, body),
    delete: (path: string) => call('DELETE', path),
  };
}

export type ScimClient = ReturnType<typeof scimClient>;

/** A User as Okta and Entra send it on create. */
export function scimUser(n: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemas: [USER, ENTERPRISE],
    userName: `user${n}@example.test`,
    externalId: `X${n}`,
    name: { givenName: `Given${n}`, familyName: `Family${n}` },
    emails: [{ primary: true, value: `user${n}@example.test`, type: 'work' }],
    displayName: `Given${n} Family${n}`,
    active: true,
    ...extra,
  };
}

export function patchOf(...operations: Record<string, unknown>[]): Record<string, unknown> {
  return { schemas: [PATCH_OP], Operations: operations };
}
