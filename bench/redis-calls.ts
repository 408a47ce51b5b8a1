/**
 * Diagnostic (not part of `npm run bench`): which Redis commands one person costs. Runs N people
 * through one worker process against an unlimited simulator, then prints Redis's own command
 * counters (INFO commandstats) divided by N, and the round trips clients made (total_commands
 * minus the commands Lua scripts ran inside the server). Usage: npx tsx bench/redis-calls.ts [N]
 */
import { startChaosEnv } from '../chaos/harness.ts';
import { chaosRoster } from '../chaos/roster.ts';

async function main(): Promise<void> {
  const people = Number(process.argv[2] ?? 2000);
  const env = await startChaosEnv({
    env: {
      QUEUE_PREFIX: '{calls}',
      DOORFLOW_RATE_LIMIT: '10000',
      DOORFLOW_MAX_IN_FLIGHT: '100',
      WORKER_CONCURRENCY: '50',
    },
  });
  try {
    await env.startWorkers(1);
    const redis = env.pipeline.redis;
    await redis.config('RESETSTAT');
    const started = Date.now();
    const run = await env.intake(chaosRoster(people), 'calls');
    await env.waitForRun(run.runId, 600_000);
    const seconds = (Date.now() - started) / 1000;
    const stats = await redis.info('commandstats');
    const rows = [...stats.matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)]
      .map((m) => ({ cmd: m[1] as string, calls: Number(m[2]), usec: Number(m[3]) }))
      .sort((a, b) => b.calls - a.calls);
    let calls = 0;
    let usec = 0;
    for (const r of rows) {
      calls += r.calls;
      usec += r.usec;
    }
    console.log(`${people} people in ${seconds.toFixed(1)} s (${(people / seconds).toFixed(0)} people/s)`);
    console.log(
      `all commands per person: ${(calls / people).toFixed(1)}, Redis CPU per person: ${(usec / people).toFixed(0)} µs`,
    );
    for (const r of rows.slice(0, 30)) {
      console.log(
        `${r.cmd.padEnd(22)} ${(r.calls / people).toFixed(2).padStart(8)} per person ${(r.usec / people).toFixed(0).padStart(6)} µs`,
      );
    }
  } finally {
    await env.close();
  }
}

await main();
