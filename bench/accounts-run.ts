import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chaosRoster } from '../chaos/roster.ts';
import { buildPipeline, type Pipeline } from '../src/app/pipeline.ts';
import { type DeliveryReceiver, startDeliveryReceiver } from '../src/cli/demo-receiver.ts';
import { type Env, forAccount, loadConfig } from '../src/lib/core/config.ts';
import { silentLogger } from '../src/lib/core/logger.ts';
import { type EmbeddedRedis, startEmbeddedRedis } from '../src/lib/core/redis.ts';
import type { RunRecord } from '../src/lib/store/runs.ts';
import { intake } from '../src/producers/intake.ts';
import { type RunningSimulator, startSimulator } from '../src/simulator/index.ts';
import { killAndWait, spawnWorker } from '../test/helpers/cli.ts';
import { type LocalCluster, startLocalCluster } from '../test/helpers/redis-cluster.ts';
import { round, yieldToSimulator } from './common.ts';

/**
 * Several DoorFlow accounts served by one fleet: one simulator per account, each enforcing that
 * account's own rate limit (so a 429 means we overran it), an accounts file naming them,
 * `workers` real `doorflow-provisioner worker` processes serving every account, one Redis (or
 * the local three-master cluster). Each account's run is enqueued through intake as `import`
 * does; figures per account come from its own simulator's counters.
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

export interface AccountFigures {
  name: string;
  people: number;
  rate: number;
  provisioned: number;
  dead: number;
  /** From its own intake to its run's finish stamp. */
  wallSeconds: number;
  requests: number;
  callsPerPerson: number;
  /** Its requests at exactly its rate limit: the budget-bound minimum. */
  minimumSeconds: number;
  /** wall / minimum: 1.0 is as fast as its budget allows. */
  ratioToMinimum: number;
  maxRequestsInAnySecond: number;
  rateLimited429: number;
  /** Cluster: the master port owning the account's hash tag. */
  masterPort?: number;
}

export interface AccountsEnv {
  readonly sims: ReadonlyMap<string, RunningSimulator>;
  readonly pipelines: ReadonlyMap<string, Pipeline>;
  readonly env: Env;
  readonly workers: ChildProcess[];
  readonly cluster: LocalCluster | undefined;
  close(): Promise<void>;
}

export interface AccountsRunOptions {
  accounts: readonly AccountRunSpec[];
  workers: number;
  cluster?: boolean;
  env?: Env;
  log?: (line: string) => void;
  timeoutMs?: number;
  /** Runs while the runs are in flight (e.g. revoke one account's grant). */
  during?: (env: AccountsEnv, runIds: ReadonlyMap<string, string>) => Promise<void>;
}

export interface AccountsRunFigures {
  accounts: AccountFigures[];
  workers: number;
  /** All requests over the span from the first intake to the last finish. */
  aggregateRequestsPerSecond: number;
  wallSeconds: number;
}

/** Starts the fleet (simulators, Redis, receiver, accounts file, workers) without any run. */
export async function startAccountsEnv(
  options: Omit<AccountsRunOptions, 'during' | 'timeoutMs'>,
): Promise<AccountsEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'dfp-accounts-run-'));
  const cluster = options.cluster ? await startLocalCluster() : undefined;
  const redis: EmbeddedRedis | undefined = cluster ? undefined : await startEmbeddedRedis();
  const receiver: DeliveryReceiver = await startDeliveryReceiver({ secret: DELIVERY_SECRET });
  const sims = new Map<string, RunningSimulator>();
  const entries = [];
  for (const [i, spec] of options.accounts.entries()) {
    const sim = await startSimulator({
      seed: 21 + i,
      faults: { rateLimitPerSec: spec.rate },
      ...(spec.grant ? { admin: true } : {}),
    });
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
    ...(cluster ? { REDIS_CLUSTER_NODES: cluster.nodes } : { REDIS_URL: redis!.url }),
    QUEUE_PREFIX: '{acct}',
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
        redis: config.redisCluster ?? redis!.url,
        logger: silentLogger(),
        role: 'worker',
      }),
    );
  }
  const workers: ChildProcess[] = [];
  for (let i = 0; i < options.workers; i++) {
    const child = await spawnWorker(env, 120_000);
    yieldToSimulator(child.pid);
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

async function waitForRun(pipeline: Pipeline, runId: string, deadline: number): Promise<RunRecord> {
  for (;;) {
    const run = await pipeline.runs.get(runId);
    if (run?.finishedAt !== undefined) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} did not finish in time: ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One measured multi-account run (see the module comment). */
export async function accountsRun(options: AccountsRunOptions): Promise<AccountsRunFigures> {
  const env = await startAccountsEnv(options);
  try {
    const deadline = Date.now() + (options.timeoutMs ?? 1_800_000);
    const first = Date.now();
    const started = new Map<string, number>();
    const runIds = new Map<string, string>();
    let offset = 0;
    const launches = options.accounts.map(async (spec) => {
      await new Promise((r) => setTimeout(r, spec.startAfterMs ?? 0));
      const pipeline = env.pipelines.get(spec.name)!;
      started.set(spec.name, Date.now());
      const rows = chaosRoster(spec.people, 1 + offset);
      offset += spec.people;
      const run = await intake(
        pipeline.intakeDeps(),
        { source: `bench-${spec.name}`, delivery: 'webhook' },
        rows,
      );
      runIds.set(spec.name, run.runId);
      options.log?.(`  ${spec.name}: ${spec.people} people enqueued at ${spec.rate} req/s`);
      return run.runId;
    });
    const ids = await Promise.all(launches);
    const duringDone = options.during?.(env, runIds);
    const records = await Promise.all(
      options.accounts.map((spec, i) => waitForRun(env.pipelines.get(spec.name)!, ids[i]!, deadline)),
    );
    await duringDone;
    const figures: AccountFigures[] = [];
    let lastFinish = first;
    for (const [i, spec] of options.accounts.entries()) {
      const record = records[i]!;
      const stats = env.sims.get(spec.name)!.stats();
      const finishedAt = record.finishedAt ?? Date.now();
      lastFinish = Math.max(lastFinish, finishedAt);
      const wall = (finishedAt - started.get(spec.name)!) / 1000;
      const minimum = stats.requestsTotal / spec.rate;
      const pipeline = env.pipelines.get(spec.name)!;
      figures.push({
        name: spec.name,
        people: spec.people,
        rate: spec.rate,
        provisioned: (record.counts.provisioned ?? 0) + (record.counts.already_provisioned ?? 0),
        dead: record.dead,
        wallSeconds: round(wall, 2),
        requests: stats.requestsTotal,
        callsPerPerson: round(stats.requestsTotal / spec.people, 3),
        minimumSeconds: round(minimum, 2),
        ratioToMinimum: round(wall / minimum, 3),
        maxRequestsInAnySecond: stats.maxRequestsInAnySecond,
        rateLimited429: stats.rateLimited429,
        ...(env.cluster ? { masterPort: await env.cluster.masterOf(pipeline.keys.redisEpoch) } : {}),
      });
    }
    const total = figures.reduce((n, f) => n + f.requests, 0);
    const span = (lastFinish - first) / 1000;
    return {
      accounts: figures,
      workers: options.workers,
      aggregateRequestsPerSecond: round(total / span, 2),
      wallSeconds: round(span, 2),
    };
  } finally {
    await env.close();
  }
}
