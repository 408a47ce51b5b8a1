import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DELIVERY_CHANNELS, deliveryChannelSchema, parseChannelList } from '../delivery/channel-names.ts';
import type { ConfigProblem } from './errors.ts';

/**
 * DOORFLOW_ACCOUNTS_FILE: the DoorFlow accounts one deployment serves, each with its own OAuth
 * grant, request budget, webhook secret and delivery defaults. This module only reads and checks
 * the file; `config.ts` turns each account into the per-account slices of the configuration.
 * Without the file there is one account, `default`, made of today's variables.
 */

/** The account the environment's own DOORFLOW_* variables make (and whose keys keep the bare prefix). */
export const DEFAULT_ACCOUNT = 'default';

/** Lower-case letters, digits, `-` and `_`: it becomes a URL segment, a key prefix and a metric label. */
const ACCOUNT_NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;

/** Fields that hold a secret: inline only in a file nobody else can read, else by variable name. */
const SECRET_FIELDS = ['accessToken', 'clientSecret', 'refreshToken', 'webhookSecret'] as const;
type SecretField = (typeof SECRET_FIELDS)[number];

const MIN_SECRET_LENGTH = 32;

const positiveRate = z
  .number({ error: 'expected a positive number of requests per second' })
  .positive({ error: 'expected a positive number of requests per second' })
  .max(10_000, { error: 'expected at most 10000 requests per second' });
const wholeNumber = (min: number, max: number) =>
  z
    .number({ error: `expected a whole number from ${min} to ${max}` })
    .int({ error: `expected a whole number from ${min} to ${max}` })
    .min(min, { error: `expected a whole number from ${min} to ${max}` })
    .max(max, { error: `expected a whole number from ${min} to ${max}` });
const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' });
const url = z.url({ error: 'expected an absolute URL' });

const channels = z.union([z.string(), z.array(z.string())]).transform((value, ctx) => {
  const parsed = parseChannelList(Array.isArray(value) ? value.join(',') : value);
  if (!parsed) {
    ctx.addIssue({ code: 'custom', message: `expected channels from ${DELIVERY_CHANNELS.join(', ')}` });
    return z.NEVER;
  }
  return parsed;
});

const deliverySchema = z.strictObject({
  default: deliveryChannelSchema.optional(),
  fallback: channels.optional(),
  webhookUrl: url.optional(),
  webhookSecret: z.string().optional(),
  webhookSecretEnv: envName.optional(),
  mailFrom: z.string().optional(),
  appName: z.string().optional(),
  supportContact: z.string().optional(),
});

const accountSchema = z.strictObject({
  name: z.string().regex(ACCOUNT_NAME, {
    error: 'expected lower-case letters, digits, - or _ (at most 40, starting with a letter or digit)',
  }),
  baseUrl: url.optional(),
  accessToken: z.string().optional(),
  accessTokenEnv: envName.optional(),
  clientId: z.string().optional(),
  clientIdEnv: envName.optional(),
  clientSecret: z.string().optional(),
  clientSecretEnv: envName.optional(),
  refreshToken: z.string().optional(),
  refreshTokenEnv: envName.optional(),
  rateLimit: positiveRate.optional(),
  maxInFlight: wholeNumber(1, 1000).optional(),
  hidCredentialTypeId: wholeNumber(1, 2_147_483_647).optional(),
  licenceLimit: wholeNumber(1, 100_000_000).optional(),
  sendEmail: z.enum(['auto', 'always', 'never'], { error: 'expected auto, always or never' }).optional(),
  webhookSecret: z.string().optional(),
  webhookSecretEnv: envName.optional(),
  delivery: deliverySchema.optional(),
});

type AccountEntry = z.infer<typeof accountSchema>;

const fileSchema = z.union([
  z.array(z.unknown()),
  z.object({ accounts: z.array(z.unknown(), { error: 'expected `accounts` to be a list' }) }),
]);

/** One account of the file, its secrets resolved (from the file, or the variables it names). */
export interface AccountSpec {
  readonly name: string;
  readonly baseUrl: string | undefined;
  readonly accessToken: string | undefined;
  readonly clientId: string | undefined;
  readonly clientSecret: string | undefined;
  readonly refreshToken: string | undefined;
  readonly rateLimit: number | undefined;
  readonly maxInFlight: number | undefined;
  readonly hidCredentialTypeId: number | undefined;
  readonly licenceLimit: number | undefined;
  readonly sendEmail: 'auto' | 'always' | 'never' | undefined;
  readonly webhookSecret: string | undefined;
  readonly delivery: {
    readonly defaultChannel: z.infer<typeof deliveryChannelSchema> | undefined;
    readonly fallback: readonly z.infer<typeof deliveryChannelSchema>[] | undefined;
    readonly webhookUrl: string | undefined;
    readonly webhookSecret: string | undefined;
    readonly mailFrom: string | undefined;
    readonly appName: string | undefined;
    readonly supportContact: string | undefined;
  };
}

type Env = Record<string, string | undefined>;

/** A problem inside the file, named by the variable and where in the file it is. */
class FileProblems {
  readonly problems: ConfigProblem[] = [];
  constructor(private readonly file: string) {}
  add(where: string, expected: string): void {
    this.problems.push({
      variable: 'DOORFLOW_ACCOUNTS_FILE',
      expected: `${this.file}: ${where}: ${expected}`,
    });
  }
}

/** Whether anyone but the owner may read (or write) the file: then it must not hold secrets. */
function isPrivate(file: string): boolean {
  return (statSync(file).mode & 0o077) === 0;
}

/**
 * A secret field: inline (`refreshToken`) when the file is private, or named (`refreshTokenEnv`)
 * and read from the environment. Never both; a named variable must be set.
 */
function secretOf(
  fields: Record<string, unknown>,
  field: string,
  ctx: { env: Env; privateFile: boolean; where: string; problems: FileProblems; minLength?: number },
): string | undefined {
  const inline = fields[field];
  const named = fields[`${field}Env`];
  if (typeof inline === 'string' && typeof named === 'string') {
    ctx.problems.add(`${ctx.where}.${field}`, `give either ${field} or ${field}Env, not both`);
    return undefined;
  }
  let value: string | undefined;
  if (typeof inline === 'string') {
    if (!ctx.privateFile) {
      ctx.problems.add(
        `${ctx.where}.${field}`,
        `an inline secret needs the file to be readable by its owner only (chmod 600), or name an environment variable with ${field}Env`,
      );
      return undefined;
    }
    value = inline;
  } else if (typeof named === 'string') {
    value = ctx.env[named];
    if (value === undefined || value.trim() === '') {
      ctx.problems.add(`${ctx.where}.${field}Env`, `the environment variable ${named} is not set`);
      return undefined;
    }
  }
  if (value !== undefined && ctx.minLength !== undefined && value.length < ctx.minLength) {
    ctx.problems.add(`${ctx.where}.${field}`, `expected at least ${ctx.minLength} characters`);
    return undefined;
  }
  return value;
}

/** A plain (non-secret) field given inline or by variable name (`clientId` / `clientIdEnv`). */
function plainOf(fields: Record<string, unknown>, field: string, env: Env): string | undefined {
  const inline = fields[field];
  if (typeof inline === 'string') return inline;
  const named = fields[`${field}Env`];
  return typeof named === 'string' ? env[named] : undefined;
}

function specOf(
  entry: AccountEntry,
  ctx: { env: Env; privateFile: boolean; where: string; problems: FileProblems },
): AccountSpec {
  const secrets = {} as Record<SecretField, string | undefined>;
  for (const field of SECRET_FIELDS) {
    secrets[field] = secretOf(entry, field, {
      ...ctx,
      ...(field === 'webhookSecret' ? { minLength: MIN_SECRET_LENGTH } : {}),
    });
  }
  const clientId = plainOf(entry, 'clientId', ctx.env);
  if (secrets.refreshToken && !(clientId && secrets.clientSecret)) {
    ctx.problems.add(ctx.where, 'refreshToken needs clientId and clientSecret');
  }
  const delivery = entry.delivery ?? {};
  const deliverySecret = secretOf(delivery, 'webhookSecret', {
    ...ctx,
    where: `${ctx.where}.delivery`,
    minLength: MIN_SECRET_LENGTH,
  });
  return {
    name: entry.name,
    baseUrl: entry.baseUrl?.replace(/\/+$/, ''),
    accessToken: secrets.accessToken,
    clientId,
    clientSecret: secrets.clientSecret,
    refreshToken: secrets.refreshToken,
    rateLimit: entry.rateLimit,
    maxInFlight: entry.maxInFlight,
    hidCredentialTypeId: entry.hidCredentialTypeId,
    licenceLimit: entry.licenceLimit,
    sendEmail: entry.sendEmail,
    webhookSecret: secrets.webhookSecret,
    delivery: {
      defaultChannel: delivery.default,
      fallback: delivery.fallback,
      webhookUrl: delivery.webhookUrl,
      webhookSecret: deliverySecret,
      mailFrom: delivery.mailFrom,
      appName: delivery.appName,
      supportContact: delivery.supportContact,
    },
  };
}

function parseText(file: string, text: string): unknown {
  // JSON is YAML too, but a JSON file's own parser gives the clearer error.
  return /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
}

/**
 * Reads and checks DOORFLOW_ACCOUNTS_FILE. Returns the accounts, or every problem found (each
 * naming the file, the account and the field), never a partial list.
 */
export function readAccountsFile(
  file: string,
  env: Env,
): { accounts: AccountSpec[]; problems: [] } | { accounts: undefined; problems: ConfigProblem[] } {
  const problems = new FileProblems(file);
  let raw: unknown;
  let privateFile: boolean;
  try {
    raw = parseText(file, readFileSync(file, 'utf8'));
    privateFile = isPrivate(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    problems.add('(file)', `cannot be read as JSON or YAML: ${reason.split('\n')[0]}`);
    return { accounts: undefined, problems: problems.problems };
  }
  const top = fileSchema.safeParse(raw);
  if (!top.success) {
    problems.add('(top level)', 'expected a list of accounts, or an object with an `accounts` list');
    return { accounts: undefined, problems: problems.problems };
  }
  const entries = Array.isArray(top.data) ? top.data : top.data.accounts;
  if (entries.length === 0) problems.add('accounts', 'expected at least one account');
  const accounts: AccountSpec[] = [];
  const seen = new Set<string>();
  entries.forEach((rawEntry, index) => {
    const rawName =
      rawEntry && typeof rawEntry === 'object' ? (rawEntry as { name?: unknown }).name : undefined;
    const label = typeof rawName === 'string' ? `accounts[${index}] (${rawName})` : `accounts[${index}]`;
    if (typeof rawName === 'string') {
      if (seen.has(rawName)) problems.add(label, `the name ${rawName} is used twice`);
      seen.add(rawName);
    }
    const parsed = accountSchema.safeParse(rawEntry);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const path = issue.path.length > 0 ? `.${issue.path.join('.')}` : '';
        const message =
          issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
        problems.add(`${label}${path}`, message);
      }
      return;
    }
    accounts.push(specOf(parsed.data, { env, privateFile, where: label, problems }));
  });
  if (problems.problems.length > 0) return { accounts: undefined, problems: problems.problems };
  return { accounts, problems: [] };
}

/**
 * The key prefix of an account: the default account keeps the configured prefix (`{dfp}`), so
 * existing data stays where it is; another account gets its own hash tag (`{dfp:london}`), so
 * its keys share one cluster slot and different accounts spread over the masters.
 */
export function accountPrefix(configured: string, account: string): string {
  if (account === DEFAULT_ACCOUNT) return configured;
  const tag = hashTagOf(configured);
  // The account's tag is the configured tag and its name (`dfp` → `dfp:london`).
  const accountTag = (name: string) => [name, account].join(':');
  if (!tag) return `{${accountTag(configured)}}`;
  return (
    configured.slice(0, tag.open + 1) +
    accountTag(configured.slice(tag.open + 1, tag.close)) +
    configured.slice(tag.close)
  );
}

/**
 * Where a key prefix's Redis Cluster hash tag is (a non-empty `{…}`, the first `{` up to the next
 * `}`), if it has one: every key under a tagged prefix hashes to one slot.
 */
export function hashTagOf(prefix: string): { open: number; close: number } | undefined {
  const open = prefix.indexOf('{');
  const close = open < 0 ? -1 : prefix.indexOf('}', open + 1);
  return close > open + 1 ? { open, close } : undefined;
}
