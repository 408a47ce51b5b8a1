import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, redisServerArgs } from '../../src/lib/core/redis.ts';

/**
 * A real local Redis Cluster: six `redis-server --cluster-enabled yes` processes on free
 * 127.0.0.1 ports (three masters, one replica each), AOF on as the chaos Redis has it, and a
 * short `cluster-node-timeout` so a killed master's replica takes over within seconds.
 */
export interface LocalCluster {
  /** `host:port,…` as REDIS_CLUSTER_NODES takes it. */
  readonly nodes: string;
  readonly ports: readonly number[];
  /** SIGKILLs the node on `port` and waits for its exit. */
  kill(port: number): Promise<void>;
  /** Starts the node on `port` again from its directory (AOF and nodes.conf): it rejoins the cluster. */
  restart(port: number): Promise<void>;
  /** The port of the master that owns `key`'s slot now. */
  masterOf(key: string): Promise<number>;
  /** Waits until every slot is served again (`cluster_state:ok`) and `port` is no master any more. */
  waitForFailover(deadPort: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalClusterOptions {
  /** `cluster-node-timeout`, ms (default 1500): how long a master may be silent before failover. */
  nodeTimeoutMs?: number;
}

const NODES = 6;

function startNode(port: number, dir: string, nodeTimeoutMs: number): ChildProcess {
  const args = [
    ...redisServerArgs(port, dir, true),
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-node-timeout',
    String(nodeTimeoutMs),
  ];
  return spawn('redis-server', args, { stdio: 'ignore' });
}

async function ask(port: number, ...command: string[]): Promise<string> {
  return String(await askRaw(port, ...command));
}

async function askRaw(port: number, ...command: string[]): Promise<unknown> {
  const probe = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return await probe.call(command[0] ?? 'PING', ...command.slice(1));
  } finally {
    probe.disconnect();
  }
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch {
      // not there yet
    }
    if (Date.now() > deadline) throw new Error(`local Redis Cluster: ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `CLUSTER NODES` lines of the masters that are up: [port, flags]. */
async function liveMasters(port: number): Promise<number[]> {
  const text = await ask(port, 'CLUSTER', 'NODES');
  return text
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => (f[2] ?? '').includes('master') && !(f[2] ?? '').includes('fail'))
    .map((f) => Number((f[1] ?? '').split(':')[1]?.split('@')[0]));
}

export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1_500;
  const root = await mkdtemp(join(tmpdir(), 'dfp-cluster-'));
  const ports: number[] = [];
  const processes = new Map<number, ChildProcess>();
  for (let i = 0; i < NODES; i++) {
    let port = await freePort();
    // The cluster bus listens on port + 10000: both must be free.
    while (port > 55_000 || ports.includes(port)) port = await freePort();
    ports.push(port);
    const dir = join(root, String(port));
    await mkdir(dir);
    processes.set(port, startNode(port, dir, nodeTimeoutMs));
  }
  const stop = async () => {
    await Promise.all(
      [...processes.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    await rm(root, { recursive: true, force: true });
  };
  try {
    for (const port of ports)
      await until(`node ${port} answering`, 10_000, async () => (await ask(port, 'PING')) || undefined);
    const create = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    if (create.status !== 0)
      throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    await until('cluster_state:ok on every node', 30_000, async () => {
      for (const port of ports)
        if (!(await ask(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return undefined;
      return true;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const anyLive = () =>
    ports.find((p) => {
      const c = processes.get(p);
      return c && c.exitCode === null && c.signalCode === null;
    }) ??
    ports[0] ??
    0;
  const masterOf = async (key: string) => {
    const slot = Number(await ask(anyLive(), 'CLUSTER', 'KEYSLOT', key));
    const owner = await until(`a master for slot ${slot}`, 10_000, async () => {
      const shards = (await askRaw(anyLive(), 'CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
      return shards.find(([from, to]) => slot >= from && slot <= to)?.[2][1];
    });
    return owner;
  };
  return {
    nodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
    ports,
    async kill(port) {
      const child = processes.get(port);
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    },
    async restart(port) {
      processes.set(port, startNode(port, join(root, String(port)), nodeTimeoutMs));
      await until(`node ${port} answering again`, 15_000, async () => (await ask(port, 'PING')) || undefined);
    },
    masterOf,
    async waitForFailover(deadPort, timeoutMs = 30_000) {
      await until(`failover away from ${deadPort}`, timeoutMs, async () => {
        const live = anyLive();
        const masters = await liveMasters(live);
        if (masters.includes(deadPort) || masters.length < 3) return undefined;
        return (await ask(live, 'CLUSTER', 'INFO')).includes('cluster_state:ok') ? true : undefined;
      });
    },
    stop,
  };
}
