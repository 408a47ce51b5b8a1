import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildProgram } from '../../src/cli/index.ts';
import { configVariables, type Env, loadConfig, parseDurationMs } from '../../src/lib/core/config.ts';
import { drainGraceMs } from '../../src/processors/worker.ts';
import { WEBHOOK_PATH } from '../../src/server/doorflow-webhooks.ts';

/**
 * docker-compose.yml's wiring, checked without a Docker engine: the file is parsed (YAML merge keys
 * as compose reads them), `${VAR:?message}` interpolation is resolved the way compose does, and
 * each service's environment goes through the app's own config parser. `composeProblems` lists
 * every broken wire; the real file must have none, and each mutation below must be caught.
 */

const COMPOSE = fileURLToPath(new URL('../../docker-compose.yml', import.meta.url));
const REQUIRED_SERVICES = ['redis', 'simulator', 'worker', 'serve', 'mailpit'] as const;
/** Values only the operator may provide: compose must refuse to start without them (`:?`). */
const SECRETS = ['ENCRYPTION_KEY', 'WEBHOOK_SECRET', 'ADMIN_TOKEN'];

type Doc = Record<string, unknown>;
interface Service {
  image?: string;
  build?: unknown;
  command?: unknown;
  environment?: unknown;
  healthcheck?: { test?: unknown; disable?: boolean };
  depends_on?: unknown;
  ports?: unknown;
  restart?: string;
  stop_grace_period?: string;
}

function readCompose(): Doc {
  return parse(readFileSync(COMPOSE, 'utf8'), { merge: true }) as Doc;
}

/** One `${…}` reference in a value, as compose reads it. */
interface Ref {
  name: string;
  /** `:?` / `?` (required), `:-` / `-` (default), or plain. */
  kind: 'required' | 'default' | 'plain';
  rest: string;
}

const REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[?-])([^}]*))?\}/g;

function refsOf(value: string): Ref[] {
  return [...value.matchAll(REF)].map((m) => ({
    name: m[1] as string,
    kind: m[2]?.endsWith('?') ? 'required' : m[2]?.endsWith('-') ? 'default' : 'plain',
    rest: m[3] ?? '',
  }));
}

/** Compose interpolation with the operator's `.env` values. */
function interpolate(value: string, vars: Env): string {
  return value.replace(REF, (_all, name: string, op: string | undefined, rest: string | undefined) => {
    const given = vars[name];
    if (op?.endsWith('-') && !given) return rest ?? '';
    return given ?? '';
  });
}

/** What a `.env` made as compose's messages say would hold. */
const OPERATOR_ENV: Env = {
  ENCRYPTION_KEY: randomBytes(32).toString('base64'), // openssl rand -base64 32
  WEBHOOK_SECRET: randomBytes(32).toString('hex'), // openssl rand -hex 32
  ADMIN_TOKEN: randomBytes(32).toString('hex'),
};

function commandOf(service: Service): string[] {
  const c = service.command;
  if (Array.isArray(c)) return c.map(String);
  return typeof c === 'string' ? c.split(/\s+/) : [];
}

function flag(command: string[], name: string): string | undefined {
  const at = command.indexOf(name);
  return at >= 0 ? command[at + 1] : undefined;
}

function environmentOf(service: Service): Record<string, string> | undefined {
  const e = service.environment;
  if (e === undefined) return {};
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return undefined;
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)]));
}

function healthText(service: Service): string {
  const test = service.healthcheck?.test;
  return Array.isArray(test) ? test.join(' ') : String(test ?? '');
}

/** Compose durations: `90s`, `1m30s`, `2m`. */
function composeDurationMs(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  return parts.reduce((sum, p) => sum + (parseDurationMs(`${p[1]}${p[2]}`) ?? Number.NaN), 0);
}

function urlOf(text: string | undefined): URL | undefined {
  try {
    return text === undefined ? undefined : new URL(text);
  } catch {
    return undefined;
  }
}

/** CLI command → its flags, from the real command definitions. */
type CliFlags = ReadonlyMap<string, ReadonlySet<string>>;
let CLI: CliFlags = new Map();

async function cliFlags(names: string[]): Promise<CliFlags> {
  const out = new Map<string, Set<string>>();
  for (const name of names) {
    const program = await buildProgram(['node', 'doorflow-provisioner', name]);
    const command = program.commands.find((c) => c.name() === name);
    if (command) out.set(name, new Set(command.options.flatMap((o) => [o.long ?? '', o.short ?? ''])));
  }
  return out;
}

/** Every broken wire of a parsed compose file, one line each. */
function composeProblems(doc: Doc): string[] {
  const problems: string[] = [];
  const services = (doc.services ?? {}) as Record<string, Service>;
  for (const name of REQUIRED_SERVICES) if (!services[name]) problems.push(`service ${name} is missing`);
  if (problems.length > 0) return problems;
  const svc = (name: (typeof REQUIRED_SERVICES)[number]) => services[name] as Service;

  // Healthchecks everywhere, and dependencies wait for them.
  for (const [name, service] of Object.entries(services)) {
    if (service.healthcheck?.disable || healthText(service).trim() === '')
      problems.push(`${name}: no healthcheck`);
    const deps = service.depends_on;
    if (Array.isArray(deps)) problems.push(`${name}: depends_on must wait for service_healthy`);
    else if (deps && typeof deps === 'object') {
      for (const [dep, how] of Object.entries(deps as Record<string, { condition?: string }>)) {
        if (how?.condition !== 'service_healthy')
          problems.push(`${name}: depends_on ${dep} is not service_healthy`);
        if (!services[dep]) problems.push(`${name}: depends_on unknown service ${dep}`);
      }
    }
  }

  // Redis: durable, never evicts, not reachable from outside without a password.
  const redis = commandOf(svc('redis'));
  if (flag(redis, '--appendonly') !== 'yes') problems.push('redis: AOF is off (--appendonly yes)');
  if (flag(redis, '--maxmemory-policy') !== 'noeviction')
    problems.push('redis: maxmemory-policy is not noeviction');
  if (svc('redis').ports && !redis.includes('--requirepass'))
    problems.push('redis: published without a password');

  // Our image runs a real CLI command with real flags, and every environment variable our
  // processes get is a real config variable, and parses.
  const known = new Set(configVariables());
  const parsed: Record<string, ReturnType<typeof loadConfig>> = {};
  const ours = Object.entries(services).filter(([, s]) => s.image === svc('serve').image || s.build);
  for (const [name, service] of ours) {
    const [command, ...args] = commandOf(service);
    const flags = CLI.get(command ?? '');
    if (!flags) problems.push(`${name}: ${command} is not a doorflow-provisioner command`);
    for (const arg of args) {
      if (flags && arg.startsWith('-') && !flags.has(arg.split('=')[0] as string))
        problems.push(`${name}: ${arg} is not a flag of ${command}`);
    }
    const env = environmentOf(service);
    if (!env) {
      problems.push(`${name}: environment must be a map`);
      continue;
    }
    const resolved: Env = {};
    for (const [key, value] of Object.entries(env)) {
      if (!known.has(key)) problems.push(`${name}: ${key} is not a config variable`);
      for (const ref of refsOf(value)) {
        if (SECRETS.includes(ref.name) && ref.kind !== 'required')
          problems.push(`${name}: ${ref.name} must have no default: \${${ref.name}:?how to make one}`);
        if (ref.kind === 'required' && !/openssl rand|randomBytes/.test(ref.rest))
          problems.push(`${name}: the message for ${ref.name} must say how to make one`);
      }
      resolved[key] = interpolate(value, OPERATOR_ENV);
    }
    for (const secret of SECRETS) {
      if (secret in env && !refsOf(env[secret] as string).some((r) => r.name === secret))
        problems.push(`${name}: ${secret} is written in the file instead of taken from .env`);
    }
    try {
      parsed[name] = loadConfig(resolved);
    } catch (err) {
      problems.push(
        `${name}: its environment does not parse: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  const worker = parsed.worker;
  const serve = parsed.serve;
  if (!worker || !serve) return problems;
  if (!worker.encryptionKey || !serve.encryptionKey) problems.push('worker and serve need ENCRYPTION_KEY');

  // The simulator: DoorFlow for worker and serve; its webhooks signed with serve's secret, sent to serve.
  const sim = commandOf(svc('simulator'));
  if (!sim.includes('simulate')) problems.push('simulator: does not run `simulate`');
  const simPort = flag(sim, '--port') ?? '4010';
  if (flag(sim, '--host') !== '0.0.0.0') problems.push('simulator: must listen on 0.0.0.0 (--host)');
  for (const [name, config] of [
    ['worker', worker],
    ['serve', serve],
  ] as const) {
    const base = urlOf(config.doorflow.baseUrl);
    if (base?.hostname !== 'simulator' || base.port !== simPort)
      problems.push(
        `${name}: DOORFLOW_BASE_URL ${config.doorflow.baseUrl} is not the simulator (port ${simPort})`,
      );
    if (config.doorflow.accessToken !== (flag(sim, '--access-token') ?? 'sim-token'))
      problems.push(`${name}: DOORFLOW_ACCESS_TOKEN is not the simulator's token`);
  }
  if (urlOf(flag(sim, '--public-url'))?.origin !== urlOf(worker.doorflow.baseUrl)?.origin)
    problems.push("simulator: --public-url is not the worker's DOORFLOW_BASE_URL (webhook resource links)");
  const hook = urlOf(flag(sim, '--webhook-url'));
  if (
    hook?.hostname !== 'serve' ||
    Number(hook.port || 80) !== serve.admin.port ||
    hook.pathname !== WEBHOOK_PATH
  )
    problems.push(`simulator: --webhook-url must be http://serve:${serve.admin.port}${WEBHOOK_PATH}`);
  if (serve.admin.host !== '0.0.0.0') problems.push('serve: SERVE_HOST must be 0.0.0.0 for other containers');
  const simSecret = refsOf(flag(sim, '--webhook-secret') ?? '');
  const serveSecret = refsOf(environmentOf(svc('serve'))?.WEBHOOK_SECRET ?? '');
  if (
    simSecret.length !== 1 ||
    simSecret[0]?.name !== serveSecret[0]?.name ||
    simSecret[0]?.kind !== 'required'
  )
    problems.push("simulator: --webhook-secret must be serve's WEBHOOK_SECRET, from .env with no default");

  // serve's and the worker's healthchecks reach their own ports.
  if (!healthText(svc('serve')).includes(`127.0.0.1:${serve.admin.port}/healthz`))
    problems.push(`serve: healthcheck must GET /healthz on port ${serve.admin.port}`);
  const metricsPort = flag(commandOf(svc('worker')), '--metrics-port');
  if (!metricsPort || !healthText(svc('worker')).includes(`127.0.0.1:${metricsPort}/metrics`))
    problems.push("worker: healthcheck must GET the worker's own /metrics (--metrics-port)");

  // The worker restarts by itself and is given longer than its drain to stop.
  if (!['unless-stopped', 'always', 'on-failure'].includes(svc('worker').restart ?? ''))
    problems.push('worker: no restart policy');
  const grace = composeDurationMs(svc('worker').stop_grace_period);
  if (grace === undefined || grace <= drainGraceMs(worker))
    problems.push(`worker: stop_grace_period must be longer than its drain (${drainGraceMs(worker)} ms)`);

  // Email goes to Mailpit.
  if (!String(svc('mailpit').image).startsWith('axllent/mailpit'))
    problems.push('mailpit: not the Mailpit image');
  const smtp = urlOf(worker.delivery.smtpUrl);
  if (smtp?.hostname !== 'mailpit' || smtp.port !== '1025')
    problems.push('worker: SMTP_URL is not Mailpit (mailpit:1025)');
  if (!worker.delivery.mailFrom) problems.push('worker: MAIL_FROM is not set');
  return problems;
}

type Mutation = (doc: Doc) => void;
function mutated(mutate: Mutation): string[] {
  const doc = readCompose();
  mutate(doc);
  return composeProblems(doc);
}
const service = (doc: Doc, name: string) => (doc.services as Record<string, Service>)[name] as Service;
const env = (doc: Doc, name: string) => service(doc, name).environment as Record<string, string>;
const setFlag = (doc: Doc, name: string, key: string, value: string) => {
  const command = service(doc, name).command as string[];
  command[command.indexOf(key) + 1] = value;
};

describe('docker-compose.yml wiring', () => {
  beforeAll(async () => {
    CLI = await cliFlags(['simulate', 'worker', 'serve']);
  });

  it('has every service wired: healthchecks, secrets from .env, webhooks to serve, mail to Mailpit', () => {
    expect(composeProblems(readCompose())).toEqual([]);
  });

  it('refuses to start without ENCRYPTION_KEY, saying how to make one that the app accepts', () => {
    const value = env(readCompose(), 'worker').ENCRYPTION_KEY as string;
    const [ref] = refsOf(value);
    expect(ref).toMatchObject({ name: 'ENCRYPTION_KEY', kind: 'required' });
    expect(ref?.rest).toContain('openssl rand -base64 32');
    // A key made that way (32 random bytes, base64) is what the config expects.
    expect(loadConfig({ ENCRYPTION_KEY: randomBytes(32).toString('base64') }).encryptionKey).toHaveLength(32);
  });

  const cases: [string, Mutation, RegExp][] = [
    ['a missing service', (d) => delete (d.services as Doc).mailpit, /service mailpit is missing/],
    ['a missing healthcheck', (d) => delete service(d, 'simulator').healthcheck, /simulator: no healthcheck/],
    [
      'a dependency not waited for',
      (d) => {
        service(d, 'worker').depends_on = { redis: { condition: 'service_started' } };
      },
      /worker: depends_on redis is not service_healthy/,
    ],
    [
      'a built-in zero key',
      (d) => {
        env(d, 'worker').ENCRYPTION_KEY = `\${ENCRYPTION_KEY:-${'0'.repeat(64)}}`;
      },
      /worker: ENCRYPTION_KEY must have no default/,
    ],
    [
      'a key written in the file',
      (d) => {
        env(d, 'serve').ENCRYPTION_KEY = randomBytes(32).toString('hex');
      },
      /serve: ENCRYPTION_KEY is written in the file/,
    ],
    [
      'Redis that evicts',
      (d) => setFlag(d, 'redis', '--maxmemory-policy', 'allkeys-lru'),
      /redis: maxmemory-policy is not noeviction/,
    ],
    ['Redis without AOF', (d) => setFlag(d, 'redis', '--appendonly', 'no'), /redis: AOF is off/],
    [
      'Redis published without a password',
      (d) => {
        service(d, 'redis').ports = ['6379:6379'];
      },
      /redis: published without a password/,
    ],
    [
      'webhooks sent to the wrong port',
      (d) => setFlag(d, 'simulator', '--webhook-url', 'http://serve:8081/webhooks/doorflow'),
      /--webhook-url must be http:\/\/serve:8080\/webhooks\/doorflow/,
    ],
    [
      'webhooks sent to the wrong path',
      (d) => setFlag(d, 'simulator', '--webhook-url', 'http://serve:8080/webhooks'),
      /--webhook-url must be/,
    ],
    [
      'webhooks signed with another secret',
      (d) => setFlag(d, 'simulator', '--webhook-secret', `\${SIM_WEBHOOK_SECRET:?openssl rand -hex 32}`),
      /--webhook-secret must be serve's WEBHOOK_SECRET/,
    ],
    [
      'resource links on another host',
      (d) => setFlag(d, 'simulator', '--public-url', 'http://localhost:4010'),
      /--public-url is not the worker's DOORFLOW_BASE_URL/,
    ],
    [
      'a misspelt flag',
      (d) => {
        const command = service(d, 'simulator').command as string[];
        command[command.indexOf('--webhook-url')] = '--webhook-uri';
      },
      /simulator: --webhook-uri is not a flag of simulate/,
    ],
    [
      'a command the CLI does not have',
      (d) => {
        service(d, 'worker').command = ['workers'];
      },
      /worker: workers is not a doorflow-provisioner command/,
    ],
    [
      'a misspelt variable',
      (d) => {
        env(d, 'worker').REDIS_URI = 'redis://redis:6379';
      },
      /worker: REDIS_URI is not a config variable/,
    ],
    [
      'a value the config refuses',
      (d) => {
        env(d, 'worker').DOORFLOW_RATE_LIMIT = 'fast';
      },
      /worker: its environment does not parse:[\s\S]*DOORFLOW_RATE_LIMIT/,
    ],
    [
      'a grace period shorter than the drain',
      (d) => {
        service(d, 'worker').stop_grace_period = '30s';
      },
      /worker: stop_grace_period must be longer than its drain \(60000 ms\)/,
    ],
    [
      'a drain lengthened past the grace period',
      (d) => {
        env(d, 'worker').DOORFLOW_TIMEOUT_MS = '60000';
      },
      /stop_grace_period must be longer than its drain \(120000 ms\)/,
    ],
    [
      'no restart policy',
      (d) => {
        delete service(d, 'worker').restart;
      },
      /worker: no restart policy/,
    ],
    [
      'email not sent to Mailpit',
      (d) => {
        env(d, 'worker').SMTP_URL = 'smtp://localhost:1025';
      },
      /worker: SMTP_URL is not Mailpit/,
    ],
    [
      "serve's healthcheck on another port",
      (d) => {
        env(d, 'serve').SERVE_PORT = '9090';
      },
      /serve: healthcheck must GET \/healthz on port 9090/,
    ],
  ];
  it.each(cases)('catches %s', (_what, mutate, expected) => {
    const problems = mutated(mutate);
    expect(
      problems.some((p) => expected.test(p)),
      problems.join('\n'),
    ).toBe(true);
  });
});
