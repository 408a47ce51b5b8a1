import { chaosRoster } from '../chaos/roster.ts';
import type { Env } from '../src/lib/core/config.ts';
import type { RunRecord } from '../src/lib/store/runs.ts';
import type { Pipeline } from '../src/app/pipeline.ts';
import { intake } from '../src/producers/intake.ts';
import { type AccountRunSpec, type AccountsEnv, startAccountsEnv } from '../test/helpers/accounts-fleet.ts';
import { round, yieldToSimulator } from './common.ts';

/**
 * One measured multi-account run on the fleet of `test/helpers/accounts-fleet.ts`: each
 * account's run is enqueued through intake as `import` does; figures per account come from its
 * own simulator's counters.
 */

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
  const env = await startAccountsEnv({ ...options, onWorker: yieldToSimulator });
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
      const stats = await env.sims.get(spec.name)!.stats();
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
