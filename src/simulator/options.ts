import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/**
 * The simulator's options. Every field is optional in the schema: the same schema validates a
 * `--config file.json`, the argument of `startSimulator(...)` and a live `configure(partial)`
 * patch. Defaults live in {@link DEFAULT_SIMULATOR_OPTIONS} and are merged in by {@link resolveOptions}.
 */

const rate = z.number().min(0).max(1);
const ms = z.number().int().min(0).max(86_400_000);

/** A static bearer token; a bare string gets every scope. */
const staticTokenSchema = z.union([
  z.string().min(1),
  z.strictObject({ token: z.string().min(1), scopes: z.array(z.string()).optional() }),
]);

const oauthClientSchema = z.strictObject({
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  /** Scopes granted when the authorization request names none. Default: every scope. */
  scopes: z.array(z.string()).optional(),
});

export const faultOptionsSchema = z.strictObject({
  /** Global /api/3 requests per sliding second before 429 (0 = unlimited). */
  rateLimitPerSec: z.number().min(0).optional(),
  /** Fixed latency added to each /api/3 request, in ms. */
  latencyMs: ms.optional(),
  /** Up to this many extra ms, drawn from the seeded PRNG per request. */
  jitterMs: ms.optional(),
  /** Probability that an HID credential create fails with 502/503 "HID Origo" (nothing created). */
  hidOrigoFailureRate: rate.optional(),
  /** Probability that a successful create's response is lost (object created, socket destroyed). */
  lostResponse: z.strictObject({ person: rate.optional(), credential: rate.optional() }).optional(),
  /** Probability of a 500 on any /api/3 request (nothing done). */
  serverErrorRate: rate.optional(),
  /** Probability that a request is delayed by `slowResponseMs` more. */
  slowResponseRate: rate.optional(),
  slowResponseMs: ms.optional(),
});

export const webhookOptionsSchema = z.strictObject({
  /** Where to POST credential status changes; unset = no webhooks (`null` in a patch switches them off). */
  url: z.url().nullable().optional(),
  secret: z.string().min(1).optional(),
  /** `real` = DoorFlow's array of thin notices; `seed` = one `credential.status_changed` object per POST. */
  format: z.enum(['real', 'seed']).optional(),
  /** Events are collected this long before a batch is sent (ms). */
  batchWindowMs: ms.optional(),
  maxBatchSize: z.number().int().min(1).max(1000).optional(),
  /** Attempts per batch (1 = no retry). Backoff doubles from `retryBaseMs`. */
  maxAttempts: z.number().int().min(1).max(50).optional(),
  retryBaseMs: ms.optional(),
  timeoutMs: ms.optional(),
  /** Re-send an event not acknowledged (resource fetched with its ack_token) after this long; 0 = never. */
  redeliverUnackedMs: ms.optional(),
  /** Fault: probability a delivery is signed with a wrong secret. */
  badSignatureRate: rate.optional(),
  /** Fault: probability a delivered batch is sent a second time. */
  duplicateRate: rate.optional(),
  /** Fault: probability a batch's events are shuffled (seed format: POSTs out of order). */
  reorderRate: rate.optional(),
});

export const simulatorOptionsSchema = z.strictObject({
  /** TCP port (0 = any free port). */
  port: z.number().int().min(0).max(65_535).optional(),
  host: z.string().min(1).optional(),
  /** Base URL used in webhook `resource` links; default the listening URL. */
  publicUrl: z.url().optional(),
  /** Seed of every random choice (faults, codes, ids): same seed + same requests → same run. */
  seed: z.number().int().optional(),
  accountId: z.string().min(1).optional(),
  accessTokens: z.array(staticTokenSchema).optional(),
  oauthClients: z.array(oauthClientSchema).optional(),
  tokenLifetimeSec: z.number().int().min(1).max(31_536_000).optional(),
  hidCredentialTypeId: z.number().int().min(1).optional(),
  /** Label of the HID type (default `HID Mobile Access`; its slug follows the label). */
  hidTypeLabel: z.string().min(1).optional(),
  /** More types in the account's list (value types, e.g. a `HID Mobile Wallet` variant). */
  extraCredentialTypes: z
    .array(
      z.strictObject({ id: z.number().int().min(1), label: z.string().min(1), slug: z.string().optional() }),
    )
    .optional(),
  /** `array` (the spec) or `wrapped` (`{credential_types:[{id,name,format}]}`, an older guide). */
  credentialTypesFormat: z.enum(['array', 'wrapped']).optional(),
  /** Live HID credentials allowed in the account (0 = unlimited). */
  licenceLimit: z.number().int().min(0).optional(),
  /**
   * `invitation_code` shows on `GET /people/:id/credentials/:id` this long after create (before
   * that the field is `null`). With `codeInCreate` and 0 ms it is on the create response too.
   */
  invitationCodeDelayMs: ms.optional(),
  /**
   * Today's shortcut, off by default: also put `invitation_code` on the create, list and 409
   * bodies. The spec's Credential has no such field; the guide shows it only on GET of one credential.
   */
  codeInCreate: z.boolean().optional(),
  /** false = never show `invitation_code` (DoorFlow emails it itself). */
  includeInvitationCode: z.boolean().optional(),
  /** Invitation validity in seconds (`invitation_expires_at`). */
  invitationTtlSec: z.number().int().min(1).optional(),
  /** revoking → revoked after this long. */
  revokeDelayMs: ms.optional(),
  /** provisioning → active after this long. */
  provisioningDelayMs: ms.optional(),
  webhook: webhookOptionsSchema.optional(),
  faults: faultOptionsSchema.optional(),
  /** Serve the unauthenticated /__sim admin routes. */
  admin: z.boolean().optional(),
});

/** Options as callers write them (every field optional). */
export type SimulatorOptionsInput = z.input<typeof simulatorOptionsSchema>;

/** A live patch: everything but the listening address. */
export const simulatorPatchSchema = simulatorOptionsSchema.omit({ port: true, host: true });
export type SimulatorPatch = z.input<typeof simulatorPatchSchema>;

export interface ResolvedFaults {
  rateLimitPerSec: number;
  latencyMs: number;
  jitterMs: number;
  hidOrigoFailureRate: number;
  lostResponse: { person: number; credential: number };
  serverErrorRate: number;
  slowResponseRate: number;
  slowResponseMs: number;
}

export interface ResolvedWebhook {
  url: string | undefined;
  secret: string;
  format: 'real' | 'seed';
  batchWindowMs: number;
  maxBatchSize: number;
  maxAttempts: number;
  retryBaseMs: number;
  timeoutMs: number;
  redeliverUnackedMs: number;
  badSignatureRate: number;
  duplicateRate: number;
  reorderRate: number;
}

/** Options with every default filled in. */
export interface ResolvedSimulatorOptions {
  port: number;
  host: string;
  publicUrl: string | undefined;
  seed: number;
  accountId: string;
  accessTokens: { token: string; scopes: string[] }[];
  oauthClients: { clientId: string; clientSecret: string; scopes: string[] }[];
  tokenLifetimeSec: number;
  hidCredentialTypeId: number;
  hidTypeLabel: string;
  extraCredentialTypes: { id: number; label: string; slug?: string | undefined }[];
  credentialTypesFormat: 'array' | 'wrapped';
  licenceLimit: number;
  invitationCodeDelayMs: number;
  codeInCreate: boolean;
  includeInvitationCode: boolean;
  invitationTtlSec: number;
  revokeDelayMs: number;
  provisioningDelayMs: number;
  webhook: ResolvedWebhook;
  faults: ResolvedFaults;
  admin: boolean;
}

/** Every scope the simulator knows. */
const ALL_SCOPES = [
  'account.person',
  'account.person.readonly',
  'account.credential_type.readonly',
  'account.sync',
];

export const DEFAULT_SIMULATOR_OPTIONS: ResolvedSimulatorOptions = {
  port: 0,
  host: '127.0.0.1',
  publicUrl: undefined,
  seed: 1,
  accountId: 'sImAcc7',
  accessTokens: [{ token: 'sim-token', scopes: ALL_SCOPES }],
  oauthClients: [{ clientId: 'sim-client', clientSecret: 'sim-secret', scopes: ALL_SCOPES }],
  tokenLifetimeSec: 3600,
  hidCredentialTypeId: 8,
  hidTypeLabel: 'HID Mobile Access',
  extraCredentialTypes: [],
  credentialTypesFormat: 'array',
  licenceLimit: 0,
  invitationCodeDelayMs: 0,
  codeInCreate: false,
  includeInvitationCode: true,
  invitationTtlSec: 30 * 86_400,
  revokeDelayMs: 500,
  provisioningDelayMs: 500,
  webhook: {
    url: undefined,
    // Random per start (printed by `simulate`): never a guessable constant.
    secret: randomBytes(24).toString('hex'),
    format: 'real',
    batchWindowMs: 50,
    maxBatchSize: 50,
    maxAttempts: 5,
    retryBaseMs: 250,
    timeoutMs: 5000,
    redeliverUnackedMs: 0,
    badSignatureRate: 0,
    duplicateRate: 0,
    reorderRate: 0,
  },
  faults: {
    rateLimitPerSec: 0,
    latencyMs: 0,
    jitterMs: 0,
    hidOrigoFailureRate: 0,
    lostResponse: { person: 0, credential: 0 },
    serverErrorRate: 0,
    slowResponseRate: 0,
    slowResponseMs: 5000,
  },
  admin: false,
};

type Parsed = z.output<typeof simulatorOptionsSchema>;

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Merges a validated patch over a base (nested objects merged one level down). */
export function mergeOptions(
  base: ResolvedSimulatorOptions,
  patch: Omit<Parsed, 'port' | 'host'> & { port?: number; host?: string },
): ResolvedSimulatorOptions {
  const { webhook, faults, accessTokens, oauthClients, ...flat } = patch;
  const lost = faults?.lostResponse;
  return {
    ...base,
    ...definedOnly(flat),
    accessTokens: accessTokens
      ? accessTokens.map((t) =>
          typeof t === 'string'
            ? { token: t, scopes: ALL_SCOPES }
            : { token: t.token, scopes: t.scopes ?? ALL_SCOPES },
        )
      : base.accessTokens,
    oauthClients: oauthClients
      ? oauthClients.map((c) => ({ ...c, scopes: c.scopes ?? ALL_SCOPES }))
      : base.oauthClients,
    webhook: {
      ...base.webhook,
      ...definedOnly(webhook),
      url: webhook?.url === null ? undefined : (webhook?.url ?? base.webhook.url),
    },
    faults: {
      ...base.faults,
      ...definedOnly(faults),
      lostResponse: { ...base.faults.lostResponse, ...definedOnly(lost) },
    },
  };
}

/** Validates raw options (throws a ZodError naming each bad field) and fills in the defaults. */
export function resolveOptions(input: unknown = {}): ResolvedSimulatorOptions {
  return mergeOptions(DEFAULT_SIMULATOR_OPTIONS, simulatorOptionsSchema.parse(input));
}
