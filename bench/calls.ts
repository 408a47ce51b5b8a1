import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChaosEnv } from '../chaos/harness.ts';
import { chaosRoster, rosterCsv } from '../chaos/roster.ts';
import { runCli } from '../test/helpers/cli.ts';
import { type BenchOptions, type BenchResult, round } from './common.ts';

/**
 * Benchmark 2, DoorFlow calls per person, counted by the simulator: new people through the
 * pipeline (no invitation delay; goal ≤ 3.05; the simulator in spec mode, `--code-in-create` for
 * the off-spec shortcut), then the same roster again through `sync` (every
 * person unchanged; goal ≤ 0.02) and, for reference, through a second `import`.
 */
export async function callsBench({ quick, codeInCreate, log }: BenchOptions): Promise<BenchResult> {
  const started = Date.now();
  const people = quick ? 1_000 : 2_000;
  const env = await startChaosEnv({
    env: { QUEUE_PREFIX: '{bench}', DOORFLOW_RATE_LIMIT: '500' },
    sim: { codeInCreate: codeInCreate === true },
  });
  const dir = await mkdtemp(join(tmpdir(), 'dfp-bench-'));
  try {
    await env.startWorkers(1);
    const rows = chaosRoster(people);
    const file = join(dir, 'roster.csv');
    await writeFile(file, rosterCsv(rows));
    log(`calls: ${people} new people`);
    const first = await runCli(
      ['import', file, '--delivery', 'webhook', '--wait', '--json'],
      env.env,
      600_000,
    );
    if (first.code !== 0) throw new Error(`import failed (${first.code}): ${first.stderr.slice(-500)}`);
    const afterNew = env.sim.stats();
    const newCalls = afterNew.requestsTotal / people;
    log(`calls: sync of the same roster (unchanged)`);
    const sync = await runCli(['sync', '--source', 'csv', '--file', file, '--json'], env.env, 600_000);
    if (sync.code !== 0)
      throw new Error(`sync failed (${sync.code}): ${sync.stderr.slice(-500)} ${sync.stdout.slice(-500)}`);
    const afterSync = env.sim.stats();
    const syncRequests = afterSync.requestsTotal - afterNew.requestsTotal;
    const syncWrites = afterSync.writeCount - afterNew.writeCount;
    log(`calls: second import of the same roster`);
    const again = await runCli(
      ['import', file, '--delivery', 'webhook', '--wait', '--json'],
      env.env,
      600_000,
    );
    if (again.code !== 0) throw new Error(`re-import failed (${again.code}): ${again.stderr.slice(-500)}`);
    const afterImport = env.sim.stats();
    const importRequests = afterImport.requestsTotal - afterSync.requestsTotal;
    const routes = (s: typeof afterNew) =>
      Object.fromEntries(
        Object.entries(s.requests).map(([route, byStatus]) => [
          route,
          Object.values(byStatus).reduce((a, b) => a + b, 0),
        ]),
      );
    return {
      name: 'calls',
      durationMs: Date.now() - started,
      figures: {
        people,
        simulator: codeInCreate ? 'code-in-create' : 'spec',
        newPersonCalls: round(newCalls),
        newRequestsByRoute: routes(afterNew),
        resyncRequests: syncRequests,
        resyncWrites: syncWrites,
        resyncCallsPerPerson: round(syncRequests / people, 4),
        reimportRequests: importRequests,
        reimportWrites: afterImport.writeCount - afterSync.writeCount,
        reimportCallsPerPerson: round(importRequests / people, 4),
      },
      goals: [
        { goal: 'new person: calls ≤ 3.05', value: round(newCalls), met: newCalls <= 3.05 },
        {
          goal: 'unchanged person on re-sync: calls ≤ 0.02',
          value: round(syncRequests / people, 4),
          met: syncRequests / people <= 0.02,
        },
      ],
    };
  } finally {
    await env.close();
    await rm(dir, { recursive: true, force: true });
  }
}
