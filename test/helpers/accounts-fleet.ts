import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPipeline, type Pipeline } from '../../src/app/pipeline.ts';
import { type DeliveryReceiver, startDeliveryReceiver } from '../../src/cli/demo-receiver.ts';
import { type Env, forAccount, loadConfig } from '../../src/lib/core/config.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/lib/core/redis.ts';
import type { SimulatorStats } from '../../src/simulator/index.ts';
import { BIN, killAndWait, spawnWorker } from './cli.ts';
import { type LocalCluster, startLocalCluster } from './redis-cluster.ts';

/**
 * Several DoorFlow accounts served by one fleet: one simulator per account, each enforcing that
 * account's own rate limit (so a 429 means we overran it), an accounts file naming them (mode
 * 0600, grants inline), `workers` real `doorflow-provisioner worker` processes serving every
 * account, one Redis (or the local three-master cluster), and one in-process pipeline per
 * account for intake and inspection.
 */

const DELIVERY_SECRET = 'accounts-delivery-secret-5d0f3b8c2a7e41f6a9c2e8b1d4f7a0c3';
const WEBHOOK_SECRET = 'accounts-webhook-secret-8e2b6f1d9c4a47e3b0f5a2c8d1e6b9f4';

export interface AccountRunSpec {
  name: string;
  people: number;
  /** The account's rate limit (its simulator's, and its `rateLimit` in the file), req/s. */
  rate: number;
  /** Start this account's run this long after the first one (ms). */
  startAfterMs?: number;
  /** Authenticate with a refresh-token grant (so `/__sim/oauth/revoke-all` can revoke it). */
  grant?: boolean;
}

export interface AccountsEnv {
  /** Each account's simulator: its own `doorflow-provisioner simulate` process. */
  readonly sims: ReadonlyMap<string, SimProcess>;
  readonly pipelines: ReadonlyMap<string, Pipeline>;
  readonly env: Env;
  readonly workers: ChildProcess[];
  readonly cluster: LocalCluster | undefined;
  close(): Promise<void>;
}

export interface AccountsEnvOptions {
  accounts: readonly AccountRunSpec[];
  workers: number;
  cluster?: boolean;
  env?: Env;
  /**
   * A Redis already running (REDIS_URL or REDIS_CLUSTER_NODES, e.g. the test suite's) and a
   * prefix of its own; without it the fleet starts its own redis-server (or cluster).
   */
  redis?: { env: Env; prefix: string };
  /** Called with each worker's pid (the bench lowers their priority below the simulators'). */
  onWorker?: (pid: number | undefined) => void;
}

/**
 * A simulator in its own process, as DoorFlow is its own server: its arrival stamps (what its
 * sliding-window limit counts) are not delayed by the work of the process measuring it.
 */
export interface SimProcess {
  readonly url: string;
  readonly accessToken: string;
  stats(): Promise<SimulatorStats>;
  close(): Promise<void>;
}

async function startSimProcess(args: string[]): Promise<SimProcess> {
  const child = spawn(process.execPath, [BIN, 'simulate', '--port', '0', '--log-level', 'warn', ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DFP_USE_SOURCE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const { url, accessToken } = await new Promise<{ url: string; accessToken: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`simulator did not start:\n${out}`)), 60_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const found = /listening on (http:\/\/\S+)/.exec(out);
      const token = /bearer token:\s+(\S+)/.exec(out);
      if (found?.[1] && token?.[1]) {
        clearTimeout(timer);
        resolve({ url: found[1], accessToken: token[1] });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`simulator exited ${code}:\n${out}`)));
  });
  child.removeAllListeners('exit');
  return {
    url,
    accessToken,
    async stats() {
      const res = await fetch(`${url}/__sim/stats`);
      return (await res.json()) as SimulatorStats;
    },
    close: () => killAndWait(child, 'SIGTERM'),
  };
}

/** Starts the fleet (simulators, Redis, receiver, accounts file, workers) without any run. */
export async function startAccountsEnv(options: AccountsEnvOptions): Promise<AccountsEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'dfp-accounts-run-'));
  const cluster = options.cluster && !options.redis ? await startLocalCluster() : undefined;
  const redis: EmbeddedRedis | undefined = cluster || options.redis ? undefined : await startEmbeddedRedis();
  const receiver: DeliveryReceiver = await startDeliveryReceiver({ secret: DELIVERY_SECRET });
  const sims = new Map<string, SimProcess>();
  const entries = [];
  const started = await Promise.all(
    options.accounts.map((spec, i) =>
      startSimProcess(['--seed', String(21 + i), '--rate-limit', String(spec.rate)]),
    ),
  );
  for (const [i, spec] of options.accounts.entries()) {
    const sim = started[i]!;
    sims.set(spec.name, sim);
    const auth = spec.grant ? await grantOf(sim.url) : { accessToken: sim.accessToken };
    entries.push({
      name: spec.name,
      baseUrl: sim.url,
      rateLimit: spec.rate,
      webhookSecret: WEBHOOK_SECRET,
      ...auth,
    });
  }
  const file = join(dir, 'accounts.json');
  await writeFile(file, JSON.stringify({ accounts: entries }, null, 2));
  // Inline grants: the file must be readable by its owner only.
  await chmod(file, 0o600);
  const env: Env = {
    ...(options.redis?.env ?? (cluster ? { REDIS_CLUSTER_NODES: cluster.nodes } : { REDIS_URL: redis!.url })),
    QUEUE_PREFIX: options.redis?.prefix ?? '{acct}',
    DOORFLOW_ACCOUNTS_FILE: file,
    LOG_LEVEL: 'warn',
    DOORFLOW_MAX_IN_FLIGHT: '32',
    DOORFLOW_TIMEOUT_MS: '5000',
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    DELIVERY_DEFAULT: 'webhook',
    DELIVERY_WEBHOOK_URL: receiver.url,
    DELIVERY_WEBHOOK_SECRET: DELIVERY_SECRET,
    JOB_BACKOFF_MS: '500',
    WORKER_CONCURRENCY: '16',
    INVITATION_WAIT_MAX: '60s',
    ...options.env,
  };
  const base = loadConfig(env, {}, { all: true });
  const pipelines = new Map<string, Pipeline>();
  for (const spec of options.accounts) {
    const config = forAccount(base, spec.name);
    pipelines.set(
      spec.name,
      buildPipeline(config, {
        redis: config.redisCluster ?? config.redisUrl ?? redis!.url,
        logger: silentLogger(),
        role: 'worker',
      }),
    );
  }
  const workers: ChildProcess[] = [];
  for (let i = 0; i < options.workers; i++) {
    const child = await spawnWorker(env, 120_000);
    options.onWorker?.(child.pid);
    workers.push(child);
  }
  return {
    sims,
    pipelines,
    env,
    workers,
    cluster,
    async close() {
      await Promise.all(workers.map((w) => killAndWait(w, 'SIGKILL')));
      for (const pipeline of pipelines.values()) await pipeline.close().catch(() => undefined);
      await receiver.close();
      for (const sim of sims.values()) await sim.close();
      await redis?.stop();
      await cluster?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A refresh-token grant from the simulator's admin API (client `sim-client` / `sim-secret`). */
async function grantOf(simUrl: string): Promise<Record<string, string>> {
  const res = await fetch(`${simUrl}/__sim/oauth/grant`, { method: 'POST' });
  const grant = (await res.json()) as { refresh_token: string };
  return { refreshToken: grant.refresh_token, clientId: 'sim-client', clientSecret: 'sim-secret' };
}
