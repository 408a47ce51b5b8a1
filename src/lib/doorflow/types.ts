/**
 * DoorFlow API contract types, as docs/doorflow-contract.md describes them (§4–§8). Liberal in what we
 * accept: unknown fields are kept, statuses are open strings. Strict in what we send: inputs are
 * closed types.
 */

/** Mobile credential statuses we know; DoorFlow may send others, which we keep as strings. */
export const KNOWN_CREDENTIAL_STATUSES = [
  'invited',
  'provisioning',
  'active',
  'revoking',
  'revoked',
] as const;
export type KnownCredentialStatus = (typeof KNOWN_CREDENTIAL_STATUSES)[number];
export type CredentialStatus = KnownCredentialStatus | (string & {});

/** A credential is "live" (holds an HID licence and blocks a second one) in these states. */
export const LIVE_CREDENTIAL_STATUSES: ReadonlySet<string> = new Set(['invited', 'provisioning', 'active']);

/** The optional person fields both directions share (DoorFlow may answer `null` for any of them). */
interface PersonFields {
  email?: string | null;
  system_id?: string | null;
  enabled?: boolean;
  salutation?: string | null;
  job_title?: string | null;
  department?: string | null;
  telephone?: string | null;
  mobile?: string | null;
  notes?: string | null;
  group_ids?: number[];
}

export interface Person extends PersonFields {
  id: number;
  first_name: string;
  last_name: string;
  groups?: unknown;
  roles?: unknown;
  created_at?: string;
  updated_at?: string;
  [field: string]: unknown;
}

/** What we send to create or update a person (flat body, as the spec documents). `group_ids` replaces the person's whole group set. */
export interface PersonInput extends PersonFields {
  first_name?: string;
  last_name?: string;
  valid_from?: string | null;
  valid_to?: string | null;
}

export interface Credential {
  /** Hashid string. */
  id: string;
  credential_type_id: number;
  person_id: number;
  label?: string | null;
  value?: string | null;
  status?: CredentialStatus | null;
  url?: string | null;
  wallet_type?: string | null;
  /** Not in the OpenAPI schema; present on HID credentials in older docs and the seed. Secret. */
  invitation_code?: string | null;
  invitation_expires_at?: string | null;
  [field: string]: unknown;
}

export interface CredentialInput {
  credential_type_id: number;
  value?: string | null;
}

export interface CredentialType {
  id: number;
  label: string;
  slug?: string | null;
  code?: string | null;
  [field: string]: unknown;
}

export interface ListPeopleFilter {
  system_id?: string;
  /** DoorFlow matches case-insensitively and partially: re-check exact matches. */
  email?: string;
  /** ISO-8601, compared with `updated_at`. */
  since_utc?: string;
  page?: number;
  /** At most 100. */
  per_page?: number;
}

export interface Page<T> {
  items: T[];
  /** From the `Total` header, when sent. */
  total: number | undefined;
  perPage: number | undefined;
  page: number;
}

export interface CallOptions {
  /** The job's abort signal: aborts waiting for budget and the HTTP request. */
  signal?: AbortSignal;
}

export interface CreateCredentialResult {
  credential: Credential;
  /** false when DoorFlow answered 409 and we adopted the existing credential. */
  created: boolean;
}

export interface DeleteCredentialResult {
  /** 202 for mobile credentials (asynchronous revocation), 200 for value types. */
  status: number;
}

/**
 * The DoorFlow API as the rest of the code sees it. Implemented over HTTP by `client.ts`; every
 * call spends from the fleet-wide request budget. Errors are `DoorFlowError`s.
 */
export interface DoorFlowApi {
  listPeople(filter?: ListPeopleFilter, options?: CallOptions): Promise<Page<Person>>;
  /**
   * Every matching person across all pages (100 per page), from `filter.page` (default 1) on: a
   * caller that already read the first page with {@link listPeople} goes on from page 2.
   */
  iteratePeople(filter?: Omit<ListPeopleFilter, 'per_page'>, options?: CallOptions): AsyncIterable<Person>;
  getPerson(personId: number, options?: CallOptions): Promise<Person>;
  createPerson(input: PersonInput, options?: CallOptions): Promise<Person>;
  updatePerson(personId: number, input: PersonInput, options?: CallOptions): Promise<Person>;
  listPersonCredentials(personId: number, options?: CallOptions): Promise<Credential[]>;
  /** Every credential in the account across all pages. */
  iterateCredentials(options?: CallOptions): AsyncIterable<Credential>;
  /** A 409 is not an error: the existing credential is returned with `created: false`. */
  createCredential(
    personId: number,
    input: CredentialInput,
    options?: CallOptions,
  ): Promise<CreateCredentialResult>;
  getCredential(
    personId: number,
    credentialId: string,
    options?: CallOptions & { ackToken?: string },
  ): Promise<Credential>;
  deleteCredential(
    personId: number,
    credentialId: string,
    options?: CallOptions,
  ): Promise<DeleteCredentialResult>;
  /** Soft-deletes a person (DoorFlow answers 200 `{"result":"ok"}`). */
  deletePerson(personId: number, options?: CallOptions): Promise<void>;
  listCredentialTypes(options?: CallOptions): Promise<CredentialType[]>;
  /** GET an absolute DoorFlow URL (a webhook's `resource`, which carries its `ack_token`). */
  getResource(url: string, options?: CallOptions): Promise<unknown>;
}
