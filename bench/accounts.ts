import { accountsRun } from './accounts-run.ts';
import { type BenchOptions, type BenchResult, round } from './common.ts';

/**
 * Fairness across accounts (issue 17, acceptance 3): a big account's run (3,000 people at
 * 50 req/s) starts first; a small account's (100 people at 20 req/s) starts 5 s later. Each
 * account stays within its own limit with no 429, and the small run finishes close to its own
 * budget-bound minimum (its requests at its rate) however long the big one runs.
 */
export async function accountsBench({ quick, log }: BenchOptions): Promise<BenchResult> {
  const started = Date.now();
  const big = { name: 'big', people: quick ? 600 : 3_000, rate: 50 };
  const small = { name: 'small', people: 100, rate: 20, startAfterMs: 5_000 };
  log(`accounts: ${big.people} people at ${big.rate} req/s, then ${small.people} at ${small.rate} req/s`);
  const run = await accountsRun({ accounts: [big, small], workers: 2, log });
  const [b, s] = run.accounts;
  const goals: BenchResult['goals'] = [];
  for (const f of run.accounts) {
    goals.push({
      goal: `${f.name}: max in any 1 s ≤ ${f.rate}, no 429`,
      value: `${f.maxRequestsInAnySecond} / ${f.rateLimited429} × 429`,
      met: f.maxRequestsInAnySecond <= f.rate && f.rateLimited429 === 0,
    });
    goals.push({
      goal: `${f.name}: every entry provisioned`,
      value: `${f.provisioned}/${f.people}`,
      met: f.provisioned === f.people,
    });
  }
  goals.push({
    goal: 'small run within 1.3 × its budget-bound minimum while the big one runs',
    value: s!.ratioToMinimum,
    met: s!.ratioToMinimum <= 1.3,
  });
  goals.push({
    goal: 'the small run finished before the big one (started first)',
    value: `${round(s!.wallSeconds + small.startAfterMs / 1000, 1)} s vs ${b!.wallSeconds} s`,
    met: s!.wallSeconds + small.startAfterMs / 1000 < b!.wallSeconds,
  });
  return { name: 'accounts', durationMs: Date.now() - started, figures: { ...run }, goals };
}

/**
 * Scale across accounts (issue 17, acceptance 4): 4 accounts × 50 req/s on the local
 * three-master Redis Cluster, 4 worker processes serving all four. The aggregate reaches
 * ≥ 0.95 × 200 req/s with every account within its own budget, and the accounts' hash tags
 * land on at least two masters (the slot map is in the figures).
 */
export async function accountsScaleBench({ quick, log }: BenchOptions): Promise<BenchResult> {
  const started = Date.now();
  const rate = 50;
  const people = quick ? 300 : 3_000;
  const names = ['north', 'south', 'east', 'west'];
  log(
    `accounts-scale: ${names.length} accounts × ${people} people at ${rate} req/s each, 4 workers, cluster`,
  );
  const run = await accountsRun({
    accounts: names.map((name) => ({ name, people, rate })),
    workers: 4,
    cluster: true,
    log,
  });
  const target = rate * names.length;
  const masters = new Set(run.accounts.map((a) => a.masterPort));
  // Per account: its requests over its own run (intake → finish), against its own budget.
  const utilisations = run.accounts.map((a) => round(a.requests / a.wallSeconds / a.rate, 3));
  const aggregate = round(
    run.accounts.reduce((n, a) => n + a.requests / a.wallSeconds, 0),
    1,
  );
  const goals: BenchResult['goals'] = [
    {
      goal: `aggregate ≥ 0.95 × ${target} req/s (all requests over first intake → last finish)`,
      value: `${run.aggregateRequestsPerSecond} req/s (${round(run.aggregateRequestsPerSecond / target, 3)})`,
      met: run.aggregateRequestsPerSecond >= 0.95 * target,
    },
    {
      goal: 'every account within its budget: max in any 1 s ≤ 50, no 429',
      value: run.accounts.map((a) => `${a.name} ${a.maxRequestsInAnySecond}/${a.rateLimited429}`).join(', '),
      met: run.accounts.every((a) => a.maxRequestsInAnySecond <= a.rate && a.rateLimited429 === 0),
    },
    {
      goal: "the 4 accounts' keys on at least 2 masters",
      value: run.accounts.map((a) => `${a.name}→${a.masterPort}`).join(', '),
      met: masters.size >= 2,
    },
    {
      goal: 'every entry provisioned',
      value: run.accounts.map((a) => `${a.provisioned}/${a.people}`).join(', '),
      met: run.accounts.every((a) => a.provisioned === a.people),
    },
  ];
  return {
    name: 'accounts-scale',
    durationMs: Date.now() - started,
    figures: {
      ...run,
      utilisations,
      aggregateOfAccountRates: aggregate,
      slotMap: Object.fromEntries(run.accounts.map((a) => [a.name, a.masterPort])),
    },
    goals,
  };
}
