import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChaosEnv, startChaosEnv } from '../chaos/harness.ts';
import { chaosRoster, rosterCsv } from '../chaos/roster.ts';
import type { SimulatorStats } from '../src/simulator/index.ts';
import { runCli } from '../test/helpers/cli.ts';
import { type BenchOptions, type BenchResult, round } from './common.ts';

/**
 * Benchmark 7, DoorFlow calls chosen by cost (issue 16, acceptance 6): an account that already
 * holds 50,000 people (10,000 with --quick), then through the real CLI `import --wait` a run of 5
 * new hires (goal ≤ 20 DoorFlow calls in all, counted by the simulator in spec mode, the worker's
 * start included) and a run of 10,000 (1,000) new people, which must still list the directory
 * because that is cheaper than a lookup per entry. Delivery by DoorFlow (the default channel); the
 * 5 hires are also run with webhook delivery, for reference (DoorFlow then holds no email, and the
 * code has to be read).
 */

const LIST = 'GET /api/3/people';

function routes(s: SimulatorStats): Record<string, number> {
  return Object.fromEntries(
    Object.entries(s.requests).map(([route, byStatus]) => [
      route,
      Object.values(byStatus).reduce((a, b) => a + b, 0),
    ]),
  );
}

function since(before: SimulatorStats, after: SimulatorStats) {
  const b = routes(before);
  const byRoute = Object.fromEntries(
    Object.entries(routes(after))
      .map(([route, n]) => [route, n - (b[route] ?? 0)] as const)
      .filter(([, n]) => n > 0),
  );
  return { total: after.requestsTotal - before.requestsTotal, byRoute };
}

/** Creates `n` people through the simulator's API (other people than any run's). */
async function seedAccount(env: ChaosEnv, n: number): Promise<void> {
  const people = chaosRoster(n, 1_000_000);
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < people.length) {
        const { line: _line, ...person } = people[next++] as (typeof people)[number];
        const res = await fetch(`${env.sim.url}/api/3/people`, {
          method: 'POST',
          headers: { authorization: `Bearer ${env.sim.accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(person),
        });
        await res.text();
        if (res.status !== 201) throw new Error(`seeding the account failed: ${res.status}`);
      }
    }),
  );
}

export async function prefetchBench({ quick, log }: BenchOptions): Promise<BenchResult> {
  const started = Date.now();
  const account = quick ? 10_000 : 50_000;
  const big = quick ? 1_000 : 10_000;
  const env = await startChaosEnv({ env: { QUEUE_PREFIX: '{bench}', DOORFLOW_RATE_LIMIT: '500' } });
  const dir = await mkdtemp(join(tmpdir(), 'dfp-bench-'));
  try {
    log(`prefetch: seeding an account of ${account} people`);
    await seedAccount(env, account);
    const importRun = async (rows: ReturnType<typeof chaosRoster>, delivery: string) => {
      const file = join(dir, `roster-${rows[0]?.system_id}-${delivery}.csv`);
      await writeFile(file, rosterCsv(rows));
      const before = env.sim.stats();
      const t0 = Date.now();
      const res = await runCli(
        ['import', file, '--delivery', delivery, '--wait', '--json'],
        env.env,
        1_800_000,
      );
      if (res.code !== 0) throw new Error(`import failed (${res.code}): ${res.stderr.slice(-500)}`);
      const after = env.sim.stats();
      return { ...since(before, after), seconds: round((Date.now() - t0) / 1000, 1), after };
    };
    // Counted from before the worker starts: its own HID type look-up is part of "in all".
    const beforeWorker = env.sim.stats();
    await env.startWorkers(1);
    log('prefetch: 5 new hires, delivery by DoorFlow');
    const small = await importRun(chaosRoster(5, 1), 'doorflow');
    const smallAll = since(beforeWorker, small.after);
    log(`  ${smallAll.total} DoorFlow calls in all ${JSON.stringify(smallAll.byRoute)}`);
    log('prefetch: 5 new hires, webhook delivery (reference)');
    const smallWebhook = await importRun(chaosRoster(5, 11), 'webhook');
    log(`  ${smallWebhook.total} calls ${JSON.stringify(smallWebhook.byRoute)}`);
    log(`prefetch: ${big} new people, delivery by DoorFlow`);
    const large = await importRun(chaosRoster(big, 100), 'doorflow');
    log(`  ${large.total} calls in ${large.seconds} s ${JSON.stringify(large.byRoute)}`);
    const directory = account + 10;
    const listCalls = large.byRoute[LIST] ?? 0;
    const pages = Math.ceil(directory / 100);
    // Without the listing each new person would cost a lookup by system_id on top of its writes.
    const perEntryWay = large.total - listCalls + big;
    const stats = env.sim.stats();
    return {
      name: 'prefetch',
      durationMs: Date.now() - started,
      figures: {
        accountPeople: account,
        smallRun: {
          people: 5,
          callsInAll: smallAll.total,
          byRoute: smallAll.byRoute,
          ofWhichWorkerStart: smallAll.total - small.total,
        },
        smallRunWebhookDelivery: { people: 5, calls: smallWebhook.total, byRoute: smallWebhook.byRoute },
        largeRun: {
          people: big,
          calls: large.total,
          callsPerPerson: round(large.total / big),
          listCalls,
          directoryPages: pages,
          byRoute: large.byRoute,
          callsLookingEachUp: perEntryWay,
          seconds: large.seconds,
        },
        duplicates: stats.duplicates,
      },
      goals: [
        {
          goal: '5 hires into a 50,000-person account: calls ≤ 20'.replace(
            '50,000',
            account.toLocaleString('en'),
          ),
          value: smallAll.total,
          met: smallAll.total <= 20,
        },
        {
          goal: `${big} people into it: lists the directory (${pages} pages)`,
          value: listCalls,
          met: listCalls === pages,
        },
        {
          goal: `${big} people: calls < looking each up (${perEntryWay})`,
          value: large.total,
          met: large.total < perEntryWay,
        },
        {
          goal: 'no duplicate people or credentials',
          value:
            stats.duplicates.peopleBySystemId +
            stats.duplicates.peopleByEmail +
            stats.duplicates.liveHidCredentials,
          met:
            stats.duplicates.peopleBySystemId +
              stats.duplicates.peopleByEmail +
              stats.duplicates.liveHidCredentials ===
            0,
        },
      ],
    };
  } finally {
    await env.close();
    await rm(dir, { recursive: true, force: true });
  }
}
