import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueEvents } from 'bullmq';
import { runCli } from '../../test/helpers/cli.ts';
import { type ChaosEnv, waitUntil } from '../harness.ts';
import { checkInvariants } from '../invariants.ts';
import { chaosRoster, rosterCsv } from '../roster.ts';
import type { Scenario } from '../scenario.ts';
import { runInChaosEnv } from './with-env.ts';

/** Operator-level chaos: two imports of one roster at once; SIGTERM to every worker mid-run. */

/** POST/PUT/DELETE requests answered 2xx, from the simulator's `METHOD /route` → status → count. */
function effectiveWrites(requests: Record<string, Record<string, number>>): number {
  let total = 0;
  for (const [route, statuses] of Object.entries(requests)) {
    if (!/^(POST|PUT|DELETE) \/api\//.test(route)) continue;
    for (const [status, count] of Object.entries(statuses)) if (/^2\d\d$/.test(status)) total += count;
  }
  return total;
}

export const doubleImport: Scenario = {
  name: 'double-import',
  title: 'the same roster imported twice concurrently (two CLI processes): zero extra writes',
  run: ({ quick, log }) =>
    runInChaosEnv('double-import', { sim: { faults: { latencyMs: 2 } } }, async (env, expect) => {
      const people = quick ? 300 : 1_000;
      const rows = chaosRoster(people);
      const dir = await mkdtemp(join(tmpdir(), 'dfp-chaos-'));
      try {
        const file = join(dir, 'roster.csv');
        await writeFile(file, rosterCsv(rows));
        await env.startWorkers(3);
        const args = ['import', file, '--delivery', 'webhook', '--json'];
        const [a, b] = await Promise.all([runCli(args, env.env), runCli(args, env.env)]);
        expect(
          a.code === 0 && b.code === 0,
          `import exit codes ${a.code}, ${b.code}: ${a.stderr}${b.stderr}`,
        );
        const runs = await env.pipeline.runs.list(10);
        expect(runs.length === 2, `${runs.length} runs recorded`);
        log(`double-import: two imports enqueued (${runs.map((r) => r.id).join(', ')})`);
        const records = await Promise.all(runs.map((r) => env.waitForRun(r.id, 600_000)));
        const stats = env.sim.stats();
        const invariants = await checkInvariants(env, { rows, runIds: runs.map((r) => r.id) });
        expect(invariants.ok, `invariants: ${invariants.violations.join('; ')}`);
        // A write the simulator turned away before acting on it (429, a 401 for an expired token,
        // an injected fault) is retried, so it arrives twice; only writes answered 2xx took effect.
        const effective = effectiveWrites(stats.requests);
        expect(
          effective === 2 * people,
          `${effective} effective writes for ${people} people (want 2 each; ${stats.writeCount} arrived)`,
        );
        return {
          people,
          writes: stats.writeCount,
          effectiveWrites: effective,
          extraWrites: effective - 2 * people,
          retriedWrites: stats.writeCount - effective,
          outcomes: records.map((r) => ({
            provisioned: r.counts.provisioned ?? 0,
            already_provisioned: r.counts.already_provisioned ?? 0,
            dead: r.dead,
          })),
          invariants,
        };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
};

export const sigtermInFlight: Scenario = {
  name: 'sigterm-in-flight',
  title: 'SIGTERM to every worker with jobs in flight: they finish, nothing stalls',
  run: ({ quick, log }) =>
    runInChaosEnv(
      'sigterm-in-flight',
      // Slow DoorFlow answers (400 ms) so each worker holds many jobs mid-request when the signal comes.
      { sim: { faults: { latencyMs: 400 } }, env: { DOORFLOW_RATE_LIMIT: '100' } },
      async (env, expect) => {
        const people = quick ? 400 : 1_500;
        const url = new URL(env.redis().url);
        const connection = { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null };
        // Batch jobs (`provision`) carry most entries; a failed entry goes on in its step's queue.
        const pipelineQueues = ['provision', 'person', 'credential', 'invitation', 'delivery-webhook'];
        const events = pipelineQueues.map(
          (q) => new QueueEvents(q, { connection, prefix: env.config.queuePrefix }),
        );
        let stalled = 0;
        for (const e of events) {
          e.on('stalled', () => {
            stalled++;
          });
          e.on('error', () => undefined);
        }
        try {
          await Promise.all(events.map((e) => e.waitUntilReady()));
          await env.startWorkers(3);
          const rows = chaosRoster(people);
          const run = await env.intake(rows, 'sigterm');
          await waitUntil(
            async () => (await env.settled(run.runId)) >= people * 0.3,
            300_000,
            '30 % settled',
          );
          const activeBefore = await activeJobs(env, pipelineQueues);
          const t = Date.now();
          const exits = await Promise.all(
            [0, 1, 2].map(async (i) => {
              const child = env.workers[i]!;
              await env.killWorker(i, 'SIGTERM', false);
              return { code: child.exitCode, signal: child.signalCode, ms: Date.now() - t };
            }),
          );
          const activeAfter = await activeJobs(env, pipelineQueues);
          log(`sigterm: ${activeBefore} active jobs at SIGTERM; workers exited ${JSON.stringify(exits)}`);
          expect(activeBefore > 0, 'no job was in flight at SIGTERM');
          expect(
            exits.every((x) => x.code === 0),
            `worker exit codes ${JSON.stringify(exits)}`,
          );
          expect(activeAfter === 0, `${activeAfter} jobs left active after every worker exited`);
          env.workers.length = 0;
          await env.startWorkers(3);
          const record = await env.waitForRun(run.runId, 600_000);
          const invariants = await checkInvariants(env, { rows, runIds: [run.runId] });
          expect(invariants.ok, `invariants: ${invariants.violations.join('; ')}`);
          expect(stalled === 0, `${stalled} jobs stalled`);
          return {
            people,
            activeJobsAtSigterm: activeBefore,
            activeJobsAfterExit: activeAfter,
            exitCodes: exits.map((x) => x.code),
            slowestExitMs: Math.max(...exits.map((x) => x.ms)),
            stalledJobs: stalled,
            provisioned: record.counts.provisioned ?? 0,
            invariants,
          };
        } finally {
          await Promise.all(events.map((e) => e.close()));
        }
      },
    ),
};

async function activeJobs(env: ChaosEnv, queues: string[]): Promise<number> {
  let n = 0;
  for (const q of queues) n += await env.pipeline.queues.get(q as 'person').getActiveCount();
  return n;
}
