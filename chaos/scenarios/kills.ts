import { type ChaosEnv, type MasterKill, startChaosEnv } from '../harness.ts';
import { checkInvariants } from '../invariants.ts';
import { chaosRoster } from '../roster.ts';
import { between, expectations, type Scenario, type ScenarioResult, sleep } from '../scenario.ts';
import { seededRandom } from '../fault-proxy.ts';

/**
 * Process faults during a run: SIGKILL a random worker process every few seconds, and/or SIGKILL
 * redis-server at given fractions of the run and restart it from its AOF on the same port. The run
 * must finish with the invariants intact. Scenarios 1 and 3 of the chaos suite, and (reduced) the
 * CI chaos test.
 */

export interface KillPlan {
  people: number;
  workers: number;
  /** Worker SIGKILLs, one every [minGapMs, maxGapMs]. */
  kills: number;
  minGapMs: number;
  maxGapMs: number;
  /**
   * Fractions of the run (settled entries ÷ people) at which Redis is SIGKILLed: the one
   * redis-server (restarted from its AOF after `redisDownMs`), or with `cluster` the master that
   * owns the prefix's slot (its replica is promoted; the dead node comes back as a replica).
   */
  redisCrashesAt: number[];
  /** Run on a local six-node Redis Cluster (three masters with a replica each). */
  cluster?: boolean;
  redisDownMs: number;
  /** Fleet budget (req/s); the simulator's own limit is set 20 % above it. */
  rate: number;
  timeoutMs: number;
  seed?: number;
  /** Roster entries per batch job (JOBS_BATCH_SIZE of the workers); default the config's. */
  batchSize?: number;
  /** Kill only while batch jobs are being processed (waits up to 5 s for one). */
  midBatch?: boolean;
  log?: (line: string) => void;
}

/** Batch jobs being processed now (by any worker). */
async function activeBatches(e: ChaosEnv): Promise<number> {
  return await e.pipeline.queues.get('provision').getActiveCount();
}

export async function runKillPlan(name: string, plan: KillPlan): Promise<ScenarioResult> {
  const started = Date.now();
  const log = plan.log ?? (() => undefined);
  const random = seededRandom(plan.seed ?? 42);
  const { failures, expect } = expectations();
  let env: ChaosEnv | undefined;
  try {
    env = await startChaosEnv({
      workers: plan.workers,
      cluster: plan.cluster ?? false,
      sim: { faults: { latencyMs: 2, rateLimitPerSec: Math.ceil(plan.rate * 1.2) } },
      env: {
        DOORFLOW_RATE_LIMIT: String(plan.rate),
        ...(plan.batchSize ? { JOBS_BATCH_SIZE: String(plan.batchSize) } : {}),
      },
    });
    const e = env;
    await e.startWorkers(plan.workers);
    const rows = chaosRoster(plan.people);
    const run = await e.intake(rows, name);
    expect(run.accepted === plan.people, `accepted ${run.accepted} of ${plan.people}`);
    log(`${name}: ${plan.people} entries enqueued, ${plan.workers} workers`);
    let finished = false;
    let kills = 0;
    let killsMidBatch = 0;
    const crashes: {
      at: number;
      settledBefore: number;
      settledAfter?: number;
      master?: MasterKill;
    }[] = [];

    const killLoop = async () => {
      while (kills < plan.kills && !finished) {
        await sleep(between(plan.minGapMs, plan.maxGapMs, random));
        if (finished) break;
        // A random running worker; its replacement starts in the background, as under a supervisor.
        const live = e.liveWorkers();
        if (live.length === 0) continue;
        const index = live[Math.floor(random() * live.length)] as number;
        if (plan.midBatch) {
          const until = Date.now() + 5_000;
          while (!finished && Date.now() < until && (await activeBatches(e)) === 0) await sleep(20);
        }
        const batches = await activeBatches(e);
        await e.killWorker(index, 'SIGKILL', true, false);
        kills++;
        if (batches > 0) killsMidBatch++;
        log(
          `${name}: SIGKILL worker ${index} (${kills}/${plan.kills}) with ${batches} batch jobs active, settled ${await e.settled(run.runId)}`,
        );
      }
    };
    const crashLoop = async () => {
      for (const fraction of plan.redisCrashesAt) {
        const target = Math.floor(plan.people * fraction);
        while (!finished && (await e.settled(run.runId)) < target) await sleep(100);
        if (finished) break;
        const settledBefore = await e.settled(run.runId);
        if (plan.cluster) {
          const master = await e.killMaster();
          const settledAfter = await e.settled(run.runId);
          crashes.push({ at: fraction, settledBefore, settledAfter, master });
          log(
            `${name}: SIGKILL master :${master.killedPort} at ${settledBefore} settled; replica :${master.promotedPort} promoted in ${master.failoverMs} ms, ${settledAfter} settled`,
          );
          continue;
        }
        await e.crashRedis(plan.redisDownMs);
        const settledAfter = await e.settled(run.runId);
        crashes.push({ at: fraction, settledBefore, settledAfter });
        log(`${name}: redis SIGKILL at ${settledBefore} settled, back from AOF with ${settledAfter}`);
      }
    };
    const loops = Promise.all([killLoop(), crashLoop()]);
    const record = await e.waitForRun(run.runId, plan.timeoutMs).finally(() => {
      finished = true;
    });
    await loops;
    const invariants = await checkInvariants(e, { rows, runIds: [run.runId] });
    expect(kills === plan.kills, `only ${kills} of ${plan.kills} worker kills happened before the run ended`);
    if (plan.midBatch) {
      expect(
        killsMidBatch === kills,
        `only ${killsMidBatch} of ${kills} kills hit a worker fleet with batches active`,
      );
    }
    expect(crashes.length === plan.redisCrashesAt.length, `only ${crashes.length} Redis crashes happened`);
    expect(invariants.ok, `invariants: ${invariants.violations.join('; ')}`);
    const stats = e.sim.stats();
    return {
      name,
      ok: failures.length === 0,
      durationMs: Date.now() - started,
      failures,
      invariants,
      figures: {
        people: plan.people,
        workers: plan.workers,
        workerKills: kills,
        killsMidBatch,
        unexpectedWorkerExits: e.unexpectedExits(),
        redisCrashes: crashes,
        provisioned: record.counts.provisioned ?? 0,
        dead: record.dead,
        retries: record.retries,
        runSeconds: Math.round((record.finishedAt ?? Date.now()) - record.createdAt) / 1000,
        doorflowRequests: stats.requestsTotal,
        writes: stats.writeCount,
        rateLimited429: stats.rateLimited429,
      },
    };
  } catch (err) {
    failures.push(err instanceof Error ? err.message : String(err));
    return { name, ok: false, durationMs: Date.now() - started, failures, figures: {} };
  } finally {
    await env?.close();
  }
}

export const workerKills: Scenario = {
  name: 'worker-kills',
  title: 'kill -9 a random worker every 3–10 s, 20 times, during a 5,000-person run (3 workers)',
  run: ({ quick, log }) =>
    runKillPlan('worker-kills', {
      people: quick ? 1_000 : 5_000,
      workers: 3,
      kills: quick ? 5 : 20,
      minGapMs: quick ? 2_000 : 3_000,
      maxGapMs: quick ? 4_000 : 10_000,
      redisCrashesAt: [],
      redisDownMs: 0,
      rate: quick ? 100 : 50,
      timeoutMs: quick ? 240_000 : 900_000,
      log,
    }),
};

export const batchKills: Scenario = {
  name: 'batch-kills',
  title:
    'kill -9 a worker while batch jobs (50 entries each) are in flight, 8 times, during a 2,000-person run (3 workers)',
  run: ({ quick, log }) =>
    runKillPlan('batch-kills', {
      people: quick ? 1_000 : 2_000,
      workers: 3,
      kills: quick ? 4 : 8,
      minGapMs: 1_500,
      maxGapMs: 3_000,
      redisCrashesAt: [],
      redisDownMs: 0,
      rate: 100,
      batchSize: 50,
      midBatch: true,
      timeoutMs: quick ? 240_000 : 600_000,
      log,
    }),
};

export const redisCrashes: Scenario = {
  name: 'redis-crashes',
  title: 'Redis SIGKILL at 25 %, 50 %, 75 % of a run, restarted after 5 s from its AOF',
  run: ({ quick, log }) =>
    runKillPlan('redis-crashes', {
      people: quick ? 1_000 : 3_000,
      workers: 3,
      kills: 0,
      minGapMs: 0,
      maxGapMs: 0,
      redisCrashesAt: [0.25, 0.5, 0.75],
      redisDownMs: quick ? 2_000 : 5_000,
      rate: 100,
      timeoutMs: 600_000,
      log,
    }),
};

export const clusterMasterKill: Scenario = {
  name: 'cluster-master-kill',
  title:
    'Redis Cluster (3 masters + 3 replicas): SIGKILL the master owning the prefix slot mid-run, and 2 workers, during a 3,000-person run',
  run: ({ quick, log }) =>
    runKillPlan('cluster-master-kill', {
      people: quick ? 1_000 : 3_000,
      workers: 3,
      kills: 2,
      minGapMs: quick ? 2_000 : 4_000,
      maxGapMs: quick ? 4_000 : 8_000,
      redisCrashesAt: [0.4],
      redisDownMs: 0,
      cluster: true,
      rate: 100,
      timeoutMs: 600_000,
      log,
    }),
};
