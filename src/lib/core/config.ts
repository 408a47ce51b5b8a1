import { z } from 'zod';
import {
  adminAuth,
  channelList,
  clusterNodes,
  duration,
  emptyToUndefined,
  encryptionKey,
  expiryPolicy,
  hostList,
  intInRange,
  logLevel,
  optionalInt,
  optionalSecret,
  optionalString,
  optionalUrl,
} from './config-fields.ts';
import { type AccountSpec, accountPrefix, DEFAULT_ACCOUNT, hashTagOf, readAccountsFile } from './accounts.ts';
import { ConfigError } from './errors.ts';
import { type DeliveryChannelName, deliveryChannelSchema } from '../delivery/channel-names.ts';

export { parseDurationMs } from './config-fields.ts';

/**
 * The only place that reads the process environment. Everything else receives a parsed, frozen
 * {@link Config}. Tests build configs with {@link loadConfig} from a plain object.
 */

export type Env = Record<string, string | undefined>;

/** The process environment, read once by the composition root (`src/cli`). */
export function processEnv(): Env {
  return process.env;
}

/** Environment variable → schema. Keys are the documented variable names (see `.env.example`). */
const envSchema = z.object({
  REDIS_URL: optionalUrl,
  REDIS_CLUSTER_NODES: clusterNodes,
  REDIS_PASSWORD: optionalString,
  REDIS_TLS: z.preprocess(emptyToUndefined, z.stringbool({ error: 'expected true or false' }).default(false)),
  QUEUE_PREFIX: z.preprocess(emptyToUndefined, z.string().default('{dfp}')),
  DOORFLOW_ACCOUNTS_FILE: optionalString,
  LOG_LEVEL: logLevel,

  DOORFLOW_BASE_URL: z.preprocess(
    emptyToUndefined,
    z.url({ error: 'expected an absolute URL' }).default('https://api.doorflow.com'),
  ),
  DOORFLOW_ACCESS_TOKEN: optionalString,
  DOORFLOW_REFRESH_TOKEN: optionalString,
  DOORFLOW_CLIENT_ID: optionalString,
  DOORFLOW_CLIENT_SECRET: optionalString,
  DOORFLOW_RATE_LIMIT: z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ error: 'expected a positive number of requests per second' })
      .positive({ error: 'expected a positive number of requests per second' })
      .max(10_000, { error: 'expected at most 10000 requests per second' })
      .default(5),
  ),
  DOORFLOW_MAX_IN_FLIGHT: intInRange(1, 1000, 8),
  DOORFLOW_TIMEOUT_MS: intInRange(100, 600_000, 30_000),
  HID_CREDENTIAL_TYPE_ID: optionalInt(1, 2_147_483_647),
  HID_LICENCE_LIMIT: optionalInt(1, 100_000_000),
  DOORFLOW_SEND_EMAIL: z.preprocess(
    emptyToUndefined,
    z.enum(['auto', 'always', 'never'], { error: 'expected auto, always or never' }).default('auto'),
  ),

  WEBHOOK_SECRET: optionalSecret,
  WEBHOOK_ACCEPT_SEED_FORMAT: z.preprocess(emptyToUndefined, z.stringbool().default(false)),
  ENCRYPTION_KEY: encryptionKey,

  DELIVERY_DEFAULT: z.preprocess(emptyToUndefined, deliveryChannelSchema.default('doorflow')),
  DELIVERY_FALLBACK: channelList,
  DELIVERY_WEBHOOK_URL: optionalUrl,
  DELIVERY_WEBHOOK_SECRET: optionalSecret,
  SMTP_URL: optionalUrl,
  MAIL_FROM: optionalString,
  APP_NAME: z.preprocess(emptyToUndefined, z.string().default('HID Mobile Access')),
  SUPPORT_CONTACT: optionalString,
  TEMPLATES_DIR: optionalString,
  SMS_BASE_URL: optionalUrl,
  SMS_ACCOUNT_SID: optionalString,
  SMS_AUTH_TOKEN: optionalString,
  SMS_FROM: optionalString,

  INVITATION_WAIT_MAX: duration('30m'),
  REMINDER_AFTER: duration('3d'),
  REMINDER_MAX: intInRange(0, 100, 2),
  INVITATION_TTL: duration('7d'),
  EXPIRY_POLICY: expiryPolicy,
  REISSUE_MAX: intInRange(0, 100, 1),
  STUCK_PROVISIONING_AFTER: duration('10m'),
  STATUS_POLL_AFTER: duration('15m'),
  LIFECYCLE_TICK: duration('1s'),
  ALERT_WEBHOOK_URL: optionalUrl,
  NOTIFY_WEBHOOK_URL: optionalUrl,

  JOB_ATTEMPTS: intInRange(1, 1000, 12),
  JOB_BACKOFF_MS: intInRange(100, 3_600_000, 2_000),
  JOB_BACKOFF_MAX_MS: intInRange(1_000, 86_400_000, 1_800_000),
  WORKER_CONCURRENCY: intInRange(1, 1000, 16),
  JOBS_BATCH_SIZE: intInRange(1, 1000, 50),
  WORKER_LOCK_DURATION: duration('30s'),
  WORKER_MAX_STALLED: intInRange(1, 1000, 10),

  ADMIN_TOKEN: optionalSecret,
  ADMIN_AUTH: adminAuth,
  ADMIN_USER: optionalString,
  ADMIN_PASSWORD: optionalString,
  SERVE_PORT: intInRange(0, 65_535, 8080),
  SERVE_HOST: z.preprocess(emptyToUndefined, z.string().default('127.0.0.1')),
  SERVE_PUBLIC_URL: optionalUrl,
  SERVE_ALLOWED_HOSTS: hostList,
  METRICS_TOKEN: optionalString,
  AUDIT_RETENTION: duration('400d'),
  RUN_RETENTION: duration('30d'),
  DLQ_RETENTION: duration('30d'),
  REVOKED_RETENTION: duration('30d'),
  JANITOR_EVERY: duration('1h'),
  PLAN_RETENTION: duration('30d'),

  BAMBOOHR_API_KEY: optionalString,
  BAMBOOHR_BASE_URL: optionalUrl,
  SYNC_SCOPE_PREFIX: optionalString,

  SCIM_TOKEN: optionalSecret,
  SCIM_BURST_WINDOW: duration('10s'),
});

type ParsedEnv = z.infer<typeof envSchema>;

/**
 * Every environment variable the configuration reads, by its documented name: what `.env.example`
 * documents and what a deployment (docker-compose.yml) may set.
 */
export function configVariables(): readonly string[] {
  return Object.keys(envSchema.shape);
}

export interface RedisClusterConfig {
  /** Seed nodes; ioredis discovers the others (and the slot map) from them. */
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  readonly password: string | undefined;
  readonly tls: boolean;
}

/**
 * Whether a key prefix carries a Redis Cluster hash tag (a non-empty `{…}`, the first `{` up to the
 * next `}`): then every key under it hashes to one slot, so multi-key scripts never cross slots.
 */
function hasHashTag(prefix: string): boolean {
  return hashTagOf(prefix) !== undefined;
}

/**
 * What differs between DoorFlow accounts: the key prefix (its own hash tag), the DoorFlow grant
 * and budget, the webhook secret and the delivery defaults. Everything else is the deployment's.
 */
export interface AccountSettings {
  readonly name: string;
  readonly queuePrefix: Config['queuePrefix'];
  readonly doorflow: Config['doorflow'];
  readonly webhook: Config['webhook'];
  readonly delivery: Config['delivery'];
}

/** Which account a command works for: `--account NAME`, or every account (`worker`, `serve`). */
export interface AccountSelection {
  readonly account?: string | undefined;
  /** Several accounts and none named is fine (the caller serves them all); the first is selected. */
  readonly all?: boolean;
}

/**
 * The whole configuration, parsed once at start-up and passed down. Durations are milliseconds.
 * `queuePrefix`, `doorflow`, `webhook` and `delivery` are those of the selected `account`;
 * {@link forAccount} selects another of `accounts`.
 */
export interface Config {
  /** The selected account (`default` without DOORFLOW_ACCOUNTS_FILE). */
  readonly account: string;
  /** Every account this deployment serves, the selected one included (one, `default`, without the file). */
  readonly accounts: readonly AccountSettings[];
  /** DOORFLOW_ACCOUNTS_FILE, when accounts come from a file. */
  readonly accountsFile: string | undefined;
  readonly redisUrl: string | undefined;
  /** REDIS_CLUSTER_NODES (with REDIS_PASSWORD, REDIS_TLS): a Redis Cluster instead of REDIS_URL. */
  readonly redisCluster: RedisClusterConfig | undefined;
  readonly queuePrefix: string;
  readonly logLevel: ParsedEnv['LOG_LEVEL'];
  readonly doorflow: {
    readonly baseUrl: string;
    readonly accessToken: string | undefined;
    readonly refreshToken: string | undefined;
    readonly clientId: string | undefined;
    readonly clientSecret: string | undefined;
    /** Requests per second for the whole fleet. */
    readonly rateLimitPerSec: number;
    /** Concurrent requests per process. */
    readonly maxInFlight: number;
    readonly timeoutMs: number;
    /** When unset, discovered from `/api/3/credential_types`, falling back to 8. */
    readonly hidCredentialTypeId: number | undefined;
    /**
     * HID Mobile licences of the account (HID_LICENCE_LIMIT); unset: the limit learned from
     * DoorFlow's first `limit_reached` (store/licences.ts).
     */
    readonly licenceLimit: number | undefined;
    /**
     * Whether a person's email goes to DoorFlow (which then emails the invitation itself).
     * `auto` (default): only when DoorFlow delivers the code; `always`; `never`.
     */
    readonly sendEmail: ParsedEnv['DOORFLOW_SEND_EMAIL'];
  };
  readonly webhook: { readonly secret: string | undefined; readonly acceptSeedFormat: boolean };
  readonly encryptionKey: Buffer | undefined;
  readonly delivery: {
    readonly defaultChannel: DeliveryChannelName;
    /** Channels to try, in order, when a person lacks what the chosen one needs (email, mobile). */
    readonly fallback: readonly DeliveryChannelName[];
    readonly webhookUrl: string | undefined;
    readonly webhookSecret: string | undefined;
    readonly smtpUrl: string | undefined;
    readonly mailFrom: string | undefined;
    readonly appName: string;
    readonly supportContact: string | undefined;
    readonly templatesDir: string | undefined;
    readonly sms: {
      readonly baseUrl: string | undefined;
      readonly accountSid: string | undefined;
      readonly authToken: string | undefined;
      readonly from: string | undefined;
    };
  };
  readonly lifecycle: {
    readonly invitationWaitMaxMs: number;
    readonly reminderAfterMs: number;
    readonly reminderMax: number;
    readonly invitationTtlMs: number;
    readonly expiryPolicy: ParsedEnv['EXPIRY_POLICY'];
    readonly reissueMax: number;
    readonly stuckProvisioningAfterMs: number;
    readonly statusPollAfterMs: number;
    /** How often the fleet's one scheduler fires the lifecycle timers due (LIFECYCLE_TICK, default 1 s). */
    readonly tickMs: number;
    readonly alertWebhookUrl: string | undefined;
    readonly notifyWebhookUrl: string | undefined;
  };
  readonly jobs: {
    readonly attempts: number;
    readonly backoffMs: number;
    readonly backoffMaxMs: number;
    readonly concurrency: number;
    /** Roster entries per `provision` job (JOBS_BATCH_SIZE); 1 = one `person` job per entry. */
    readonly batchSize: number;
    /** Job lock; a crashed worker's jobs are recovered after about this long. */
    readonly lockDurationMs: number;
    /** How often a job may be recovered from a crashed worker before it fails. */
    readonly maxStalledCount: number;
  };
  readonly admin: {
    readonly token: string | undefined;
    readonly auth: ParsedEnv['ADMIN_AUTH'];
    readonly user: string | undefined;
    readonly password: string | undefined;
    readonly port: number;
    readonly host: string;
    /** Where browsers reach `serve` (SERVE_PUBLIC_URL); https makes the session cookie Secure. */
    readonly publicUrl: string | undefined;
    /** Host names `serve` answers to (SERVE_ALLOWED_HOSTS); empty: the defaults (docs/ops.md). */
    readonly allowedHosts: readonly string[];
    /** Bearer token `/metrics` requires (METRICS_TOKEN); unset: open. */
    readonly metricsToken: string | undefined;
    readonly auditRetentionMs: number;
  };
  /**
   * How long each kind of record stays in Redis (ms); the janitor (`processors/janitor.ts`, every
   * `janitorEveryMs`) and `runs purge` enforce them.
   */
  readonly retention: {
    /** A finished run and all its entries, counted from its finish (RUN_RETENTION, default 30 d). */
    readonly runMs: number;
    /** A dead letter, counted from its last failure (DLQ_RETENTION, default 30 d). */
    readonly deadLetterMs: number;
    /** An audit record (AUDIT_RETENTION, default 400 d; the same as `admin.auditRetentionMs`). */
    readonly auditMs: number;
    /** A revoked or deleted credential's status and history, from the revocation (REVOKED_RETENTION, default 30 d). */
    readonly revokedCredentialMs: number;
    /** How often the janitor runs (JANITOR_EVERY, default 1 h). */
    readonly janitorEveryMs: number;
    /** A quarantined sync plan nobody approved or rejected, from its quarantine (PLAN_RETENTION, default 30 d). */
    readonly planMs: number;
  };
  readonly hris: {
    readonly bamboohrApiKey: string | undefined;
    readonly bamboohrBaseUrl: string | undefined;
    readonly syncScopePrefix: string | undefined;
  };
  /** SCIM 2.0 inbound (`serve` under `/scim/v2`, docs/scim.md); disabled while `token` is unset. */
  readonly scim: {
    /** The bearer token the IdP sends (SCIM_TOKEN, at least 32 characters). */
    readonly token: string | undefined;
    /**
     * SCIM requests closer together than this form one burst: one run, and one offboarding
     * safety check; a deactivation waits this long before it is applied (SCIM_BURST_WINDOW, 10 s).
     */
    readonly burstWindowMs: number;
  };
}

/** One Redis, named one way; on a cluster, a prefix whose keys all share one slot. */
function redisProblems(e: ParsedEnv): { variable: string; expected: string }[] {
  if (!e.REDIS_CLUSTER_NODES) {
    // One Redis takes both in its URL; silently ignoring them would connect without them.
    const clusterOnly = [
      ...(e.REDIS_PASSWORD ? ['REDIS_PASSWORD'] : []),
      ...(e.REDIS_TLS ? ['REDIS_TLS'] : []),
    ];
    return clusterOnly.map((variable) => ({
      variable,
      expected: `used only with REDIS_CLUSTER_NODES; for one Redis put it in REDIS_URL (redis://:password@host:6379, rediss:// for TLS)`,
    }));
  }
  if (e.REDIS_URL) {
    return [
      {
        variable: 'REDIS_CLUSTER_NODES',
        expected: 'set either REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both',
      },
    ];
  }
  if (hasHashTag(e.QUEUE_PREFIX)) return [];
  return [
    {
      variable: 'QUEUE_PREFIX',
      expected: `a hash-tagged prefix such as {dfp} when REDIS_CLUSTER_NODES is set (every key of a queue must share one cluster slot); "${e.QUEUE_PREFIX}" has no {…} tag`,
    },
  ];
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The account today's variables make: `default`, on the configured prefix. */
function baseAccount(e: ParsedEnv): AccountSettings {
  return {
    name: DEFAULT_ACCOUNT,
    queuePrefix: e.QUEUE_PREFIX,
    doorflow: {
      baseUrl: e.DOORFLOW_BASE_URL.replace(/\/+$/, ''),
      accessToken: e.DOORFLOW_ACCESS_TOKEN,
      refreshToken: e.DOORFLOW_REFRESH_TOKEN,
      clientId: e.DOORFLOW_CLIENT_ID,
      clientSecret: e.DOORFLOW_CLIENT_SECRET,
      rateLimitPerSec: e.DOORFLOW_RATE_LIMIT,
      maxInFlight: e.DOORFLOW_MAX_IN_FLIGHT,
      timeoutMs: e.DOORFLOW_TIMEOUT_MS,
      hidCredentialTypeId: e.HID_CREDENTIAL_TYPE_ID,
      licenceLimit: e.HID_LICENCE_LIMIT,
      sendEmail: e.DOORFLOW_SEND_EMAIL,
    },
    webhook: { secret: e.WEBHOOK_SECRET, acceptSeedFormat: e.WEBHOOK_ACCEPT_SEED_FORMAT },
    delivery: {
      defaultChannel: e.DELIVERY_DEFAULT,
      fallback: e.DELIVERY_FALLBACK,
      webhookUrl: e.DELIVERY_WEBHOOK_URL,
      webhookSecret: e.DELIVERY_WEBHOOK_SECRET,
      smtpUrl: e.SMTP_URL,
      mailFrom: e.MAIL_FROM,
      appName: e.APP_NAME,
      supportContact: e.SUPPORT_CONTACT,
      templatesDir: e.TEMPLATES_DIR,
      sms: {
        baseUrl: e.SMS_BASE_URL,
        accountSid: e.SMS_ACCOUNT_SID,
        authToken: e.SMS_AUTH_TOKEN,
        from: e.SMS_FROM,
      },
    },
  };
}

/**
 * An account of DOORFLOW_ACCOUNTS_FILE. Its grant and webhook secret are its own, never the
 * environment's (one account must not act with another's token); budget, timeouts and delivery
 * settings it leaves out are the deployment's.
 */
function accountFromFile(spec: AccountSpec, e: ParsedEnv, base: AccountSettings): AccountSettings {
  const d = spec.delivery;
  return {
    name: spec.name,
    queuePrefix: accountPrefix(e.QUEUE_PREFIX, spec.name),
    doorflow: {
      baseUrl: spec.baseUrl ?? base.doorflow.baseUrl,
      accessToken: spec.accessToken,
      refreshToken: spec.refreshToken,
      clientId: spec.clientId,
      clientSecret: spec.clientSecret,
      rateLimitPerSec: spec.rateLimit ?? base.doorflow.rateLimitPerSec,
      maxInFlight: spec.maxInFlight ?? base.doorflow.maxInFlight,
      timeoutMs: base.doorflow.timeoutMs,
      hidCredentialTypeId: spec.hidCredentialTypeId,
      licenceLimit: spec.licenceLimit,
      sendEmail: spec.sendEmail ?? base.doorflow.sendEmail,
    },
    webhook: { secret: spec.webhookSecret, acceptSeedFormat: base.webhook.acceptSeedFormat },
    delivery: {
      ...base.delivery,
      defaultChannel: d.defaultChannel ?? base.delivery.defaultChannel,
      fallback: d.fallback ?? base.delivery.fallback,
      webhookUrl: d.webhookUrl ?? base.delivery.webhookUrl,
      webhookSecret: d.webhookSecret ?? (d.webhookUrl ? undefined : base.delivery.webhookSecret),
      mailFrom: d.mailFrom ?? base.delivery.mailFrom,
      appName: d.appName ?? base.delivery.appName,
      supportContact: d.supportContact ?? base.delivery.supportContact,
    },
  };
}

/** `--account NAME`, else the only account, else `default`; several and none named is an error unless `all`. */
function selectAccount(
  accounts: readonly AccountSettings[],
  selection: AccountSelection,
  file: string | undefined,
): AccountSettings {
  const names = accounts.map((a) => a.name);
  if (selection.account !== undefined) {
    const named = accounts.find((a) => a.name === selection.account);
    if (named) return named;
    const where = file
      ? `the accounts of ${file}`
      : 'the accounts (without DOORFLOW_ACCOUNTS_FILE only default)';
    throw new ConfigError([{ variable: '--account', expected: `one of ${where}: ${names.join(', ')}` }]);
  }
  const chosen = accounts.length === 1 ? accounts[0] : accounts.find((a) => a.name === DEFAULT_ACCOUNT);
  if (chosen) return chosen;
  if (selection.all && accounts[0]) return accounts[0];
  throw new ConfigError([
    {
      variable: '--account',
      expected: `${file} lists several accounts and none is named default: choose one (${names.join(', ')})`,
    },
  ]);
}

/** The same configuration with another of its accounts selected. */
export function forAccount(config: Config, name: string): Config {
  if (name === config.account) return config;
  const account = config.accounts.find((a) => a.name === name);
  if (!account)
    throw new ConfigError([
      { variable: '--account', expected: `one of ${config.accounts.map((a) => a.name).join(', ')}` },
    ]);
  return deepFreeze<Config>({
    ...config,
    account: account.name,
    queuePrefix: account.queuePrefix,
    doorflow: account.doorflow,
    webhook: account.webhook,
    delivery: account.delivery,
  });
}

/**
 * Parses the environment (and CLI overrides, which win) into a frozen {@link Config}.
 * Throws one {@link ConfigError} listing every bad variable and what it expects.
 */
export function loadConfig(env: Env, overrides: Env = {}, selection: AccountSelection = {}): Config {
  const merged: Env = { ...env };
  for (const [key, value] of Object.entries(overrides)) if (value !== undefined) merged[key] = value;
  const result = envSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? '(config)'),
      expected: issue.message,
    }));
    throw new ConfigError(problems);
  }
  const e = result.data;
  const problems: { variable: string; expected: string }[] = [];
  if (e.DOORFLOW_REFRESH_TOKEN && !(e.DOORFLOW_CLIENT_ID && e.DOORFLOW_CLIENT_SECRET)) {
    for (const variable of ['DOORFLOW_CLIENT_ID', 'DOORFLOW_CLIENT_SECRET'] as const) {
      if (!e[variable]) problems.push({ variable, expected: 'required when DOORFLOW_REFRESH_TOKEN is set' });
    }
  }
  // SCIM user records are personal data kept in Redis: they are only ever stored encrypted.
  if (e.SCIM_TOKEN && !e.ENCRYPTION_KEY) {
    problems.push({
      variable: 'ENCRYPTION_KEY',
      expected: 'required when SCIM_TOKEN is set: SCIM user records are stored encrypted with it',
    });
  }
  problems.push(...redisProblems(e));
  const fromFile = e.DOORFLOW_ACCOUNTS_FILE ? readAccountsFile(e.DOORFLOW_ACCOUNTS_FILE, merged) : undefined;
  if (fromFile?.problems.length) problems.push(...fromFile.problems);
  if (problems.length > 0) throw new ConfigError(problems);

  const base = baseAccount(e);
  const accounts = fromFile?.accounts
    ? fromFile.accounts.map((spec) => accountFromFile(spec, e, base))
    : [base];
  const selected = selectAccount(accounts, selection, e.DOORFLOW_ACCOUNTS_FILE);
  return deepFreeze<Config>({
    account: selected.name,
    accounts,
    accountsFile: e.DOORFLOW_ACCOUNTS_FILE,
    queuePrefix: selected.queuePrefix,
    doorflow: selected.doorflow,
    webhook: selected.webhook,
    delivery: selected.delivery,
    redisUrl: e.REDIS_URL,
    redisCluster: e.REDIS_CLUSTER_NODES
      ? { nodes: e.REDIS_CLUSTER_NODES, password: e.REDIS_PASSWORD, tls: e.REDIS_TLS }
      : undefined,
    logLevel: e.LOG_LEVEL,
    encryptionKey: e.ENCRYPTION_KEY,
    lifecycle: {
      invitationWaitMaxMs: e.INVITATION_WAIT_MAX,
      reminderAfterMs: e.REMINDER_AFTER,
      reminderMax: e.REMINDER_MAX,
      invitationTtlMs: e.INVITATION_TTL,
      expiryPolicy: e.EXPIRY_POLICY,
      reissueMax: e.REISSUE_MAX,
      stuckProvisioningAfterMs: e.STUCK_PROVISIONING_AFTER,
      statusPollAfterMs: e.STATUS_POLL_AFTER,
      tickMs: e.LIFECYCLE_TICK,
      alertWebhookUrl: e.ALERT_WEBHOOK_URL,
      notifyWebhookUrl: e.NOTIFY_WEBHOOK_URL,
    },
    jobs: {
      attempts: e.JOB_ATTEMPTS,
      backoffMs: e.JOB_BACKOFF_MS,
      backoffMaxMs: e.JOB_BACKOFF_MAX_MS,
      concurrency: e.WORKER_CONCURRENCY,
      batchSize: e.JOBS_BATCH_SIZE,
      lockDurationMs: e.WORKER_LOCK_DURATION,
      maxStalledCount: e.WORKER_MAX_STALLED,
    },
    admin: {
      token: e.ADMIN_TOKEN,
      auth: e.ADMIN_AUTH,
      user: e.ADMIN_USER,
      password: e.ADMIN_PASSWORD,
      port: e.SERVE_PORT,
      host: e.SERVE_HOST,
      publicUrl: e.SERVE_PUBLIC_URL,
      allowedHosts: e.SERVE_ALLOWED_HOSTS,
      metricsToken: e.METRICS_TOKEN,
      auditRetentionMs: e.AUDIT_RETENTION,
    },
    retention: {
      runMs: e.RUN_RETENTION,
      deadLetterMs: e.DLQ_RETENTION,
      auditMs: e.AUDIT_RETENTION,
      revokedCredentialMs: e.REVOKED_RETENTION,
      janitorEveryMs: e.JANITOR_EVERY,
      planMs: e.PLAN_RETENTION,
    },
    hris: {
      bamboohrApiKey: e.BAMBOOHR_API_KEY,
      bamboohrBaseUrl: e.BAMBOOHR_BASE_URL,
      syncScopePrefix: e.SYNC_SCOPE_PREFIX,
    },
    scim: { token: e.SCIM_TOKEN, burstWindowMs: e.SCIM_BURST_WINDOW },
  });
}
