import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ZodError } from 'zod';
import { ConfigError } from '../lib/core/errors.ts';
import { createLogger } from '../lib/core/logger.ts';
import type { ResolvedSimulatorOptions } from '../simulator/options.ts';
import { installShutdown } from './shutdown.ts';

/**
 * `doorflow-provisioner simulate`: a local DoorFlow + HID Origo sandbox for rehearsals and tests.
 * Flags override `--config file.json`, which overrides the defaults; every knob of
 * `SimulatorOptions` has a flag.
 */

function num(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--extra-credential-type 9:"HID Mobile Wallet"`, repeatable. */
function collectType(
  value: string,
  previous: { id: number; label: string }[] | undefined,
): { id: number; label: string }[] {
  const match = /^(\d+):(.+)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected ID:LABEL, e.g. 9:HID Mobile Wallet');
  return [...(previous ?? []), { id: Number(match[1]), label: (match[2] ?? '').trim() }];
}

/** flag attribute → where it lands in the options object. */
export const FLAG_PATHS: Record<string, string[]> = {
  port: ['port'],
  host: ['host'],
  publicUrl: ['publicUrl'],
  seed: ['seed'],
  accountId: ['accountId'],
  tokenLifetimeSec: ['tokenLifetimeSec'],
  hidTypeId: ['hidCredentialTypeId'],
  hidTypeLabel: ['hidTypeLabel'],
  extraCredentialType: ['extraCredentialTypes'],
  credentialTypesFormat: ['credentialTypesFormat'],
  licenceLimit: ['licenceLimit'],
  invitationDelayMs: ['invitationCodeDelayMs'],
  invitationCode: ['includeInvitationCode'],
  codeInCreate: ['codeInCreate'],
  invitationTtlSec: ['invitationTtlSec'],
  revokeDelayMs: ['revokeDelayMs'],
  provisioningDelayMs: ['provisioningDelayMs'],
  webhookUrl: ['webhook', 'url'],
  webhookSecret: ['webhook', 'secret'],
  webhookFormat: ['webhook', 'format'],
  webhookBatchMs: ['webhook', 'batchWindowMs'],
  webhookMaxBatch: ['webhook', 'maxBatchSize'],
  webhookTimeoutMs: ['webhook', 'timeoutMs'],
  webhookMaxAttempts: ['webhook', 'maxAttempts'],
  webhookRetryBaseMs: ['webhook', 'retryBaseMs'],
  webhookRedeliverMs: ['webhook', 'redeliverUnackedMs'],
  webhookBadSignatureRate: ['webhook', 'badSignatureRate'],
  webhookDuplicateRate: ['webhook', 'duplicateRate'],
  webhookReorderRate: ['webhook', 'reorderRate'],
  rateLimit: ['faults', 'rateLimitPerSec'],
  latencyMs: ['faults', 'latencyMs'],
  jitterMs: ['faults', 'jitterMs'],
  hidFailureRate: ['faults', 'hidOrigoFailureRate'],
  lostPersonRate: ['faults', 'lostResponse', 'person'],
  lostCredentialRate: ['faults', 'lostResponse', 'credential'],
  serverErrorRate: ['faults', 'serverErrorRate'],
  slowRate: ['faults', 'slowResponseRate'],
  slowMs: ['faults', 'slowResponseMs'],
  admin: ['admin'],
};

type Json = Record<string, unknown>;

function setPath(target: Json, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Json;
  }
  node[path[path.length - 1] as string] = value;
}

function readConfigFile(file: string): Json {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('expected a JSON object');
    return parsed as Json;
  } catch (err) {
    throw new ConfigError([
      { variable: `--config ${file}`, expected: err instanceof Error ? err.message : String(err) },
    ]);
  }
}

/** Config file, then every flag the user actually typed (plus the CLI's own defaults where the file is silent). */
export function buildSimulatorOptions(cmd: Command): Json {
  const flags = cmd.opts<Record<string, unknown>>();
  const options: Json = typeof flags.config === 'string' ? readConfigFile(flags.config) : {};
  // The catch-all first, so --lost-person-rate / --lost-credential-rate can refine it.
  if (typeof flags.lostResponseRate === 'number') {
    setPath(options, ['faults', 'lostResponse'], {
      person: flags.lostResponseRate,
      credential: flags.lostResponseRate,
    });
  }
  for (const [flag, path] of Object.entries(FLAG_PATHS)) {
    const value = flags[flag];
    if (value === undefined) continue;
    // Typed flags win over the file; CLI defaults (port, host, admin) only fill what the file leaves out.
    if (cmd.getOptionValueSource(flag) === 'cli' || !((path[0] as string) in options))
      setPath(options, path, value);
  }
  if (Array.isArray(flags.accessToken)) options.accessTokens = flags.accessToken;
  if (typeof flags.clientId === 'string' || typeof flags.clientSecret === 'string') {
    options.oauthClients = [
      { clientId: flags.clientId ?? 'sim-client', clientSecret: flags.clientSecret ?? 'sim-secret' },
    ];
  }
  return options;
}

function describeCodes(o: ResolvedSimulatorOptions): string {
  if (!o.includeInvitationCode) return 'never shown (DoorFlow emails them)';
  const delay = o.invitationCodeDelayMs > 0 ? ` after ${o.invitationCodeDelayMs} ms` : '';
  const where = o.codeInCreate ? 'on every credential body (--code-in-create)' : 'on GET of one credential';
  return `invitation_code ${where}${delay}`;
}

function describeFaults(o: ResolvedSimulatorOptions): string {
  const f = o.faults;
  const parts: string[] = [];
  if (f.rateLimitPerSec > 0) parts.push(`rate limit ${f.rateLimitPerSec}/s`);
  if (f.latencyMs > 0 || f.jitterMs > 0) parts.push(`latency ${f.latencyMs}+${f.jitterMs} ms`);
  if (f.hidOrigoFailureRate > 0) parts.push(`HID Origo failures ${f.hidOrigoFailureRate}`);
  if (f.lostResponse.person > 0 || f.lostResponse.credential > 0) {
    parts.push(`lost responses person ${f.lostResponse.person} / credential ${f.lostResponse.credential}`);
  }
  if (f.serverErrorRate > 0) parts.push(`500s ${f.serverErrorRate}`);
  if (f.slowResponseRate > 0) parts.push(`slow ${f.slowResponseRate} (+${f.slowResponseMs} ms)`);
  if (o.licenceLimit > 0) parts.push(`licence limit ${o.licenceLimit}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('Run a local DoorFlow + HID Origo simulator (rehearsals, tests). Flags override --config.')
    .option('--port <n>', 'TCP port (0 = any free port)', num, 4010)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--config <file>', 'JSON file with simulator options (same shape as startSimulator options)')
    .option('--seed <n>', 'seed of every random choice: same seed + same requests = same faults', num)
    .option(
      '--access-token <token>',
      'static bearer token with every scope (repeatable; default sim-token)',
      collect,
    )
    .option('--client-id <id>', 'OAuth client id (default sim-client)')
    .option('--client-secret <secret>', 'OAuth client secret (default sim-secret)')
    .option('--token-lifetime-sec <n>', 'OAuth access token lifetime in seconds (default 3600)', num)
    .option('--account-id <id>', 'account hashid in webhooks and token info')
    .option('--public-url <url>', 'base URL used in webhook resource links (default: the listening URL)')
    .option('--hid-type-id <n>', 'credential type id of HID Mobile Access (default 8)', num)
    .option('--hid-type-label <label>', 'label of the HID type (default "HID Mobile Access")')
    .option(
      '--extra-credential-type <id:label>',
      'one more credential type in the account, e.g. 9:"HID Mobile Wallet" (repeatable)',
      collectType,
    )
    .addOption(
      new Option('--credential-types-format <f>', 'credential types list shape').choices([
        'array',
        'wrapped',
      ]),
    )
    .option(
      '--licence-limit <n>',
      'live HID credentials allowed before 422 limit_reached (0 = unlimited)',
      num,
    )
    .option(
      '--invitation-delay-ms <n>',
      'invitation_code shows on GET of one credential after this long, null before (default 0)',
      num,
    )
    .option(
      '--code-in-create',
      'shortcut off the spec: invitation_code on create, list and 409 bodies too (default off)',
    )
    .option('--no-invitation-code', 'never expose invitation_code (DoorFlow emails it)')
    .option('--invitation-ttl-sec <n>', 'invitation validity in seconds (default 30 days)', num)
    .option('--revoke-delay-ms <n>', 'revoking → revoked after this long (default 500)', num)
    .option('--provisioning-delay-ms <n>', 'provisioning → active after this long (default 500)', num)
    .option('--webhook-url <url>', 'POST credential status changes here')
    .option('--webhook-secret <secret>', 'webhook signing secret (default: random, printed at start)')
    .addOption(new Option('--webhook-format <format>', 'webhook payload format').choices(['real', 'seed']))
    .option('--webhook-batch-ms <n>', 'collect events this long per batch (default 50)', num)
    .option('--webhook-max-batch <n>', 'events per real-format POST at most (default 50)', num)
    .option('--webhook-timeout-ms <n>', 'per-delivery timeout (default 5000)', num)
    .option('--webhook-max-attempts <n>', 'delivery attempts per batch (default 5)', num)
    .option('--webhook-retry-base-ms <n>', 'first retry delay, doubling (default 250)', num)
    .option(
      '--webhook-redeliver-ms <n>',
      're-send unacknowledged events once after this long (0 = never)',
      num,
    )
    .option('--webhook-bad-signature-rate <p>', 'fault: share of deliveries signed with a wrong secret', num)
    .option('--webhook-duplicate-rate <p>', 'fault: share of deliveries sent twice', num)
    .option('--webhook-reorder-rate <p>', 'fault: share of batches shuffled', num)
    .option('--rate-limit <n>', 'fault: /api/3 requests per sliding second before 429 + Retry-After', num)
    .option('--latency-ms <n>', 'fault: latency added to every /api/3 request', num)
    .option('--jitter-ms <n>', 'fault: up to this much extra latency (seeded)', num)
    .option('--hid-failure-rate <p>', 'fault: share of HID creates failing 502/503 "HID Origo"', num)
    .option(
      '--lost-response-rate <p>',
      'fault: share of person and credential creates whose response is lost',
      num,
    )
    .option('--lost-person-rate <p>', 'fault: lost responses on person creates only', num)
    .option('--lost-credential-rate <p>', 'fault: lost responses on credential creates only', num)
    .option('--server-error-rate <p>', 'fault: share of /api/3 requests answered 500', num)
    .option('--slow-rate <p>', 'fault: share of /api/3 requests delayed by --slow-ms', num)
    .option('--slow-ms <n>', 'fault: extra delay of slow responses (default 5000)', num)
    .option('--no-admin', 'do not serve the /__sim admin routes (stats, reset, config, hooks)')
    .option('--log-level <level>', 'simulator log level (logs go to stderr)', 'info')
    .addHelpText(
      'after',
      `
Admin routes (unless --no-admin): GET /__sim/stats, POST /__sim/reset, GET|PUT|POST /__sim/config
(live fault changes, JSON like --config), POST /__sim/invitations/accept {"code"},
POST /__sim/invitations/expire {"credential_ids"?}, POST /__sim/provisioning/stall {"on"},
POST /__sim/tokens/expire, POST /__sim/oauth/code, GET /__sim/people, /__sim/credentials, /__sim/webhooks.
Only in --config: scoped tokens ("accessTokens": [{"token","scopes"}]) and several OAuth clients.
Rates (<p>) are probabilities from 0 to 1, drawn from the seeded PRNG per request.`,
    )
    .action(async (_flags: unknown, cmd: Command) => {
      const startedAt = performance.now();
      const { startSimulator } = await import('../simulator/index.ts');
      const flags = cmd.opts<{ logLevel: string }>();
      const logger = createLogger({ level: flags.logLevel, destination: process.stderr, name: 'simulator' });
      let sim: Awaited<ReturnType<typeof startSimulator>>;
      try {
        sim = await startSimulator({ ...buildSimulatorOptions(cmd), logger });
      } catch (err) {
        if (err instanceof ZodError) {
          const problems = err.issues.map((i) => ({
            variable: i.path.join('.') || '(options)',
            expected: i.message,
          }));
          throw new ConfigError(problems);
        }
        throw err;
      }
      const o = sim.options();
      const ms = Math.round(performance.now() - startedAt);
      const lines = [
        `DoorFlow simulator listening on ${sim.url} (started in ${ms} ms, seed ${o.seed})`,
        `  bearer token:  ${sim.accessToken}`,
        `  OAuth client:  client_id=${sim.oauthClient.clientId} client_secret=${sim.oauthClient.clientSecret}`,
        `  authorize:     ${sim.url}/oauth/authorize?response_type=code&client_id=${sim.oauthClient.clientId}&redirect_uri=<your callback>`,
        `  HID type id:   ${o.hidCredentialTypeId}`,
        `  codes:         ${describeCodes(o)}`,
        `  faults:        ${describeFaults(o)}`,
        `  webhooks:      ${o.webhook.url ? `${o.webhook.url} (${o.webhook.format} format)` : 'off (--webhook-url)'}`,
        `  admin:         ${o.admin ? `${sim.url}/__sim/stats` : 'off'}`,
        '',
        'Point the provisioner at it:',
        `  DOORFLOW_BASE_URL=${sim.url}`,
        `  DOORFLOW_ACCESS_TOKEN=${sim.accessToken}`,
        `  DOORFLOW_CLIENT_ID=${sim.oauthClient.clientId}`,
        `  DOORFLOW_CLIENT_SECRET=${sim.oauthClient.clientSecret}`,
      ];
      if (o.webhook.url) {
        lines.push(`  WEBHOOK_SECRET=${o.webhook.secret}`);
        if (o.webhook.format === 'seed') lines.push('  WEBHOOK_ACCEPT_SEED_FORMAT=true');
      }
      // Signals are handled before the URL is printed: whoever reads it may SIGTERM at once.
      const stopped = new Promise<void>((resolve) => {
        installShutdown(logger, async () => {
          await sim.close();
          console.log('simulator stopped');
          resolve();
        });
      });
      console.log(lines.join('\n'));
      await stopped;
    });
}
