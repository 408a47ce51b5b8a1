import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
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

/** The one Redis connection factory. */
export function createRedis(url: string, role: RedisRole, extra: RedisOptions = {}): Redis {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy: reconnectForever, ...extra }
      : role === 'service'
        ? {
            maxRetriesPerRequest: 1,
            enableReadyCheck: true,
            connectTimeout: 5_000,
            retryStrategy: reconnectForever,
            ...extra,
          }
        : {
            maxRetriesPerRequest: 1,
            enableOfflineQueue: true,
            connectTimeout: 5_000,
            retryStrategy: (times) => (times > 3 ? null : Math.min(times * 200, 1_000)),
            ...extra,
          };
  return new Redis(url, options);
}

/** BullMQ needs every key kept: evicting keys silently loses jobs. Warns loudly otherwise. */
export async function checkEvictionPolicy(redis: Redis, logger: Logger): Promise<string | undefined> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
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

/** Starts a private redis-server and waits until it answers PING. */
export async function startEmbeddedRedis(options: EmbeddedRedisOptions = {}): Promise<EmbeddedRedis> {
  if (!redisServerAvailable()) throw new ProvisionerError('redis_server_missing', REDIS_SERVER_MISSING_HELP);
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'dfp-redis-')));
  const port = options.port ?? (await freePort());
  const args = [
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
    options.appendOnly ? 'yes' : 'no',
    '--appendfsync',
    'everysec',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ];
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
