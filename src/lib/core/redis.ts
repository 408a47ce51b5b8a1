import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RedisClusterConfig } from './config.ts';
import type { Logger } from './logger.ts';
import { ProvisionerError } from './errors.ts';

/**
 * `worker`: blocking BullMQ connections — reconnect forever, commands wait (`maxRetriesPerRequest: null`).
 * `service`: long-running processes that answer others (`serve`, `import --wait`) — reconnect forever,
 *   but a command fails after one reconnection attempt so a request gets a 503 instead of hanging.
 * `producer`: one-shot CLI commands and producers — fail fast so a user sees a dead Redis at once.
 */
export type RedisRole = 'worker' | 'service' | 'producer';

/** Reconnection delay cap, ms: a process is ready again within this long of Redis answering. */
const REDIS_RECONNECT_MAX_MS = 2_000;

/** Reconnect forever: 100 ms, 200 ms, … capped at {@link REDIS_RECONNECT_MAX_MS}. */
function reconnectForever(times: number): number {
  return Math.min(times * 100, REDIS_RECONNECT_MAX_MS);
}

/**
 * What every store, service and queue talks to: one Redis, or a Redis Cluster (REDIS_CLUSTER_NODES).
 * Both route a command by its keys; every key of ours shares the prefix's hash tag, so on a
 * cluster they all live on the one master that owns its slot.
 */
export type RedisConnection = Redis | Cluster;

/** Where Redis is: a `redis://` / `rediss://` URL, or a cluster's seed nodes. */
export type RedisTarget = string | RedisClusterConfig;

function roleOptions(role: RedisRole): RedisOptions {
  if (role === 'worker')
    return { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy: reconnectForever };
  if (role === 'service') {
    return {
      maxRetriesPerRequest: 1,
      enableReadyCheck: true,
      connectTimeout: 5_000,
      retryStrategy: reconnectForever,
    };
  }
  return {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 5_000,
    retryStrategy: (times) => (times > 3 ? null : Math.min(times * 200, 1_000)),
  };
}

/** The one Redis connection factory. */
export function createRedis(target: RedisTarget, role: RedisRole, extra: RedisOptions = {}): RedisConnection {
  const options: RedisOptions = { ...roleOptions(role), ...extra };
  if (typeof target === 'string') return new Redis(target, options);
  return createCluster(target, role, options);
}

/** Failover takes a few seconds (cluster-node-timeout + election): a command waits that out. */
const CLUSTER_RETRY_DELAY_MS = 300;

function createCluster(target: RedisClusterConfig, role: RedisRole, options: RedisOptions): Cluster {
  const { retryStrategy, enableOfflineQueue, ...nodeOptions } = options;
  const clusterOptions: ClusterOptions = {
    // A per-node retryStrategy is ioredis' job on a cluster (it re-reads the slot map instead).
    clusterRetryStrategy: (times) => (retryStrategy ? (retryStrategy(times) ?? null) : null),
    enableOfflineQueue: enableOfflineQueue ?? true,
    enableReadyCheck: options.enableReadyCheck ?? true,
    maxRedirections: 16,
    retryDelayOnFailover: CLUSTER_RETRY_DELAY_MS,
    retryDelayOnClusterDown: CLUSTER_RETRY_DELAY_MS,
    retryDelayOnTryAgain: CLUSTER_RETRY_DELAY_MS,
    redisOptions: {
      ...nodeOptions,
      ...(target.password ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
    },
  };
  // A worker's commands (BullMQ's blocking ones among them) wait for a promoted replica.
  if (role === 'worker') clusterOptions.maxRedirections = 64;
  return new Cluster(
    target.nodes.map((n) => ({ host: n.host, port: n.port })),
    clusterOptions,
  );
}

/**
 * The node that holds `key`'s slot: the connection itself on one Redis, its master on a cluster.
 * Commands that name no key (SCAN, INFO) go there so they see our keys and our master, not a
 * random node.
 */
export async function nodeFor(redis: RedisConnection, key: string): Promise<Redis> {
  if (!(redis instanceof Cluster)) return redis;
  const slot = Number(await redis.cluster('KEYSLOT', key));
  const owner = redis.slots[slot]?.[0];
  const node = redis.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
  if (!node)
    throw new ProvisionerError('redis_slot_unknown', `no Redis Cluster master owns slot ${slot} yet`, {
      retryable: true,
    });
  return node;
}

/** Every master: the connection itself on one Redis. */
export async function mastersOf(redis: RedisConnection): Promise<Redis[]> {
  if (!(redis instanceof Cluster)) return [redis];
  // The node list is empty until the first slot map arrives.
  if (redis.status !== 'ready') await redis.ping();
  return redis.nodes('master');
}

/** `run_id` of the server holding `key` (random per redis-server start; a promoted replica has its own). */
export async function serverRunId(redis: RedisConnection, key: string): Promise<string> {
  const info = await (await nodeFor(redis, key)).info('server');
  return /^run_id:(\S+)/m.exec(info)?.[1] ?? '';
}

/** BullMQ needs every key kept: evicting keys silently loses jobs. Warns loudly otherwise. */
export async function checkEvictionPolicy(
  redis: RedisConnection,
  logger: Logger,
): Promise<string | undefined> {
  try {
    let policy: string | undefined;
    // On a cluster every master holds somebody's slots: the first one that evicts decides.
    for (const node of await mastersOf(redis)) {
      const reply = (await node.config('GET', 'maxmemory-policy')) as string[];
      policy = reply[1];
      if (policy !== 'noeviction') break;
    }
    if (policy && policy !== 'noeviction') {
      logger.warn(
        { policy },
        `Redis maxmemory-policy is "${policy}": Redis may evict queue keys and lose jobs. Set maxmemory-policy noeviction.`,
      );
    }
    return policy;
  } catch (err) {
    // Managed Redis services often forbid CONFIG; we cannot check, so say so once.
    logger.warn(
      { err },
      'Could not read Redis maxmemory-policy (CONFIG GET refused); make sure it is noeviction',
    );
    return undefined;
  }
}

/** A private redis-server started on a free 127.0.0.1 port in a temporary directory. */
export interface EmbeddedRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly process: ChildProcess;
  /** Graceful shutdown (SHUTDOWN NOSAVE equivalent via SIGTERM) and removal of the temp dir. */
  stop(): Promise<void>;
}

export interface EmbeddedRedisOptions {
  /** Append-only file with `everysec` fsync, so a SIGKILLed server restarts with its data. */
  appendOnly?: boolean;
  /** Reuse a data directory (to restart from its AOF); a temp dir otherwise. */
  dir?: string;
  port?: number;
  /** Keep the directory on stop (to restart from it). */
  keepDir?: boolean;
}

const REDIS_SERVER_MISSING_HELP =
  'No redis-server found on PATH. Install one (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`), ' +
  'or start one with `docker compose up -d redis` and set REDIS_URL=redis://127.0.0.1:6379.';

function redisServerAvailable(): boolean {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return probe.status === 0;
}

/** A free TCP port on 127.0.0.1, chosen by the kernel. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A private redis-server's arguments: loopback only, no RDB, `noeviction`, AOF `everysec` when asked. */
export function redisServerArgs(port: number, dir: string, appendOnly: boolean): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
    '--appendonly',
    appendOnly ? 'yes' : 'no',
    '--appendfsync',
    'everysec',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ];
}

/** Starts a private redis-server and waits until it answers PING. */
export async function startEmbeddedRedis(options: EmbeddedRedisOptions = {}): Promise<EmbeddedRedis> {
  if (!redisServerAvailable()) throw new ProvisionerError('redis_server_missing', REDIS_SERVER_MISSING_HELP);
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'dfp-redis-')));
  const port = options.port ?? (await freePort());
  const args = redisServerArgs(port, dir, options.appendOnly ?? false);
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new ProvisionerError('redis_server_failed', `redis-server exited at start-up: ${stderr.trim()}`);
    }
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      // While loading an AOF the server answers LOADING; wait until it is really ready.
      await probe.ping();
      probe.disconnect();
      break;
    } catch {
      probe.disconnect();
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new ProvisionerError(
          'redis_server_failed',
          `redis-server did not answer on ${url}: ${stderr.trim()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    if (!options.keepDir && !options.dir) await rm(dir, { recursive: true, force: true });
  };
  return { url, port, dir, process: child, stop };
}
