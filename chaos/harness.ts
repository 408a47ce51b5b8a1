import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { type DeliveryReceiver, startDeliveryReceiver } from '../src/cli/demo-receiver.ts';
import { buildPipeline, type Pipeline } from '../src/app/pipeline.ts';
import { type Config, type Env, loadConfig } from '../src/lib/core/config.ts';
import { silentLogger } from '../src/lib/core/logger.ts';
import { QUEUE_NAMES } from '../src/lib/jobs/registry.ts';
import { type EmbeddedRedis, startEmbeddedRedis } from '../src/lib/core/redis.ts';
import type { RunRecord } from '../src/lib/store/runs.ts';
import { intake, type IntakeResult, type RunHandle } from '../src/producers/intake.ts';
import { type RunningSimulator, type SimulatorOptions, startSimulator } from '../src/simulator/index.ts';
import { killAndWait, spawnWorker } from '../test/helpers/cli.ts';
import { type LocalCluster, startLocalCluster } from '../test/helpers/redis-cluster.ts';
import { type FaultProxy, startFaultProxy } from './fault-proxy.ts';

/**
 * One chaos environment: a private redis-server with AOF on (so it can be SIGKILLed and restarted
 * from its file on the same port), the simulator (optionally behind the fault proxy), a signature-
 * checking delivery receiver, real `worker` child processes started through the CLI, and the
 * composed pipeline in this process for intake and inspection. Worker processes are supervised:
 * one that dies without being told to is counted and restarted, as systemd or Kubernetes would.
 */

export const CHAOS_WEBHOOK_SECRET = 'chaos-delivery-secret-a7d1ac7151716c98ab69914bcfd1a298';

export interface ChaosEnvOptions {
  sim?: SimulatorOptions;
  /** Put the fault proxy between the workers and the simulator. */
  proxy?: boolean;
  /** Environment of the workers and of this process's pipeline (over the chaos defaults). */
  env?: Env;
  workers?: number;
  /** A local six-node Redis Cluster (three masters, AOF) instead of the one redis-server. */
  cluster?: boolean;
}

/** What one master SIGKILL on the cluster did. */
export interface MasterKill {
  /** Port of the master that owned the prefix's slot. */
  killedPort: number;
  /** Port of the replica promoted in its place. */
  promotedPort: number;
  /** SIGKILL → every slot served again (`cluster_state:ok`), ms. */
  failoverMs: number;
}

export interface ChaosEnv {
  readonly sim: RunningSimulator;
  readonly proxy: FaultProxy | undefined;
  readonly receiver: DeliveryReceiver;
  readonly env: Env;
  readonly config: Config;
  readonly pipeline: Pipeline;
  readonly redis: () => EmbeddedRedis;
  /** The local Redis Cluster, when started with `cluster: true`. */
  readonly cluster: LocalCluster | undefined;
  /**
   * Cluster only: SIGKILLs the master that owns the queue prefix's slot, waits for its replica to
   * be promoted, then restarts the dead node from its AOF (it rejoins as the new master's replica,
   * as a supervisor would bring it back), so a later kill again has a replica to fail over to.
   */
  killMaster(): Promise<MasterKill>;
  readonly workers: ChildProcess[];
  /** Workers that exited without being told to (then restarted). */
  readonly unexpectedExits: () => number;
  startWorkers(count: number): Promise<void>;
  /**
   * Sends `signal` to worker `index` and waits for its exit; restarts it unless `restart` is false.
   * With `awaitRestart: false` the replacement starts in the background (as a supervisor would).
   */
  killWorker(index: number, signal: NodeJS.Signals, restart?: boolean, awaitRestart?: boolean): Promise<void>;
  /** Indexes of workers that are running (not killed, not exited). */
  liveWorkers(): number[];
  /** SIGKILLs redis-server, waits `downMs`, restarts it from its AOF on the same port and dir. */
  crashRedis(downMs: number): Promise<void>;
  /** Enqueues `rows` as one run; codes go by signed webhook to the receiver unless `delivery` says otherwise. */
  intake(
    rows: readonly unknown[],
    source?: string,
    delivery?: 'webhook' | 'doorflow',
  ): Promise<RunHandle & IntakeResult>;
  /** Entries of the run that reached an end (provisioned, already provisioned, invalid or dead). */
  settled(runId: string): Promise<number>;
  waitForRun(runId: string, timeoutMs: number): Promise<RunRecord>;
  close(): Promise<void>;
}

export async function startChaosEnv(options: ChaosEnvOptions = {}): Promise<ChaosEnv> {
  let redis = await startEmbeddedRedis({ appendOnly: true, keepDir: true });
  const dir = redis.dir;
  const port = redis.port;
  const cluster = options.cluster ? await startLocalCluster() : undefined;
  const sim = await startSimulator({ seed: 11, ...options.sim });
  const proxy = options.proxy ? await startFaultProxy(sim.url, 5) : undefined;
  const receiver = await startDeliveryReceiver({ secret: CHAOS_WEBHOOK_SECRET });
  const env: Env = {
    ...(cluster ? { REDIS_CLUSTER_NODES: cluster.nodes } : { REDIS_URL: redis.url }),
    QUEUE_PREFIX: '{chaos}',
    LOG_LEVEL: 'warn',
    DOORFLOW_BASE_URL: proxy?.url ?? sim.url,
    DOORFLOW_ACCESS_TOKEN: sim.accessToken,
    DOORFLOW_RATE_LIMIT: '200',
    DOORFLOW_MAX_IN_FLIGHT: '32',
    DOORFLOW_TIMEOUT_MS: '3000',
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    DELIVERY_DEFAULT: 'webhook',
    DELIVERY_WEBHOOK_URL: receiver.url,
    DELIVERY_WEBHOOK_SECRET: CHAOS_WEBHOOK_SECRET,
    JOB_ATTEMPTS: '15',
    JOB_BACKOFF_MS: '200',
    JOB_BACKOFF_MAX_MS: '3000',
    WORKER_CONCURRENCY: '16',
    WORKER_LOCK_DURATION: '4s',
    WORKER_MAX_STALLED: '50',
    INVITATION_WAIT_MAX: '30s',
    ...options.env,
  };
  const config = loadConfig(env);
  // The 'worker' role retries forever, so this process rides out a Redis restart like the workers.
  const pipeline = buildPipeline(config, {
    redis: config.redisCluster ?? redis.url,
    logger: silentLogger(),
    role: 'worker',
  });
  // While Redis is down the queues report connection errors; the workers' retries are what matter.
  for (const name of QUEUE_NAMES) pipeline.queues.get(name).on('error', () => undefined);
  const workers: ChildProcess[] = [];
  const told = new WeakSet<ChildProcess>();
  const pending = new Set<Promise<void>>();
  let unexpected = 0;
  let closing = false;

  const supervise = (index: number, child: ChildProcess) => {
    child.once('exit', () => {
      if (closing || told.has(child)) return;
      unexpected++;
      void spawnWorker(env, 60_000).then(
        (next) => {
          workers[index] = next;
          supervise(index, next);
        },
        () => undefined,
      );
    });
  };
  const start = async (index: number) => {
    const child = await spawnWorker(env, 60_000);
    workers[index] = child;
    supervise(index, child);
  };

  const harness: ChaosEnv = {
    sim,
    proxy,
    receiver,
    env,
    config,
    pipeline,
    redis: () => redis,
    cluster,
    async killMaster() {
      if (!cluster) throw new Error('killMaster needs a chaos env started with cluster: true');
      // Any key under the prefix: they all share its hash tag, so its slot and its master.
      const killedPort = await cluster.masterOf(pipeline.keys.redisEpoch);
      const started = Date.now();
      await cluster.kill(killedPort);
      await cluster.waitForFailover(killedPort);
      const failoverMs = Date.now() - started;
      const promotedPort = await cluster.masterOf(pipeline.keys.redisEpoch);
      await cluster.restart(killedPort);
      return { killedPort, promotedPort, failoverMs };
    },
    workers,
    unexpectedExits: () => unexpected,
    async startWorkers(count) {
      await Promise.all(Array.from({ length: count }, (_, i) => start(workers.length + i)));
    },
    async killWorker(index, signal, restart = true, awaitRestart = true) {
      const child = workers[index];
      if (!child) return;
      told.add(child);
      await killAndWait(child, signal);
      if (!restart) return;
      const restarting = start(index);
      pending.add(restarting);
      void restarting.finally(() => pending.delete(restarting)).catch(() => undefined);
      if (awaitRestart) await restarting;
    },
    liveWorkers() {
      return workers.flatMap((w, i) =>
        w && !told.has(w) && w.exitCode === null && w.signalCode === null ? [i] : [],
      );
    },
    async crashRedis(downMs) {
      redis.process.kill('SIGKILL');
      await new Promise<void>((resolve) => {
        if (redis.process.exitCode !== null || redis.process.signalCode !== null) resolve();
        else redis.process.once('exit', () => resolve());
      });
      await new Promise((r) => setTimeout(r, downMs));
      redis = await startEmbeddedRedis({ appendOnly: true, keepDir: true, dir, port });
    },
    intake: (rows, source = 'chaos', delivery = 'webhook') =>
      intake(pipeline.intakeDeps(), { source, delivery }, rows as unknown[]),
    async settled(runId) {
      const run = await pipeline.runs.get(runId);
      if (!run) return 0;
      const c = run.counts;
      return (c.provisioned ?? 0) + (c.already_provisioned ?? 0) + (c.invalid ?? 0) + run.dead;
    },
    async waitForRun(runId, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const run = await pipeline.runs.get(runId);
        if (run?.finishedAt !== undefined) return run;
        if (Date.now() > deadline) {
          throw new Error(`run ${runId} did not finish in ${timeoutMs} ms: ${JSON.stringify(run)}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async close() {
      closing = true;
      // A replacement still starting would outlive us: let it come up, then kill it with the rest.
      await Promise.allSettled([...pending]);
      await Promise.all(workers.map((w) => killAndWait(w, 'SIGKILL')));
      await pipeline.close().catch(() => undefined);
      await receiver.close();
      await proxy?.close();
      await sim.close();
      await redis.stop();
      await cluster?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Polls until `check` is true (or throws after `timeoutMs`). */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
