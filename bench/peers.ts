import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../src/simulator/index.ts';
import { type BenchOptions, type BenchResult, round, yieldToSimulator } from './common.ts';
import type { PeerArgs, PeerResult } from './peers/peer-client.ts';
import { pipelineRun } from './pipeline-run.ts';

/**
 * Benchmark 3, against peers on the same simulator (20 ms latency): a naive sequential script and
 * a p-limit(50) script (bench/peers/, got directly, no queue), each in its own process like our
 * worker, without and with a rate limit. Our figure is the whole pipeline, webhook delivery
 * included, from intake to the run's end. Goals: ≥ 1.0× the p-limit script with no rate limit;
 * ≥ 0.95 of the budget with one.
 */

const ROOT = fileURLToPath(new URL('../', import.meta.url));

async function runPeerScript(script: string, args: PeerArgs): Promise<PeerResult> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', `bench/peers/${script}.ts`, JSON.stringify(args)],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  yieldToSimulator(child.pid);
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`${script} failed (${code}): ${err.slice(-500)}`);
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as PeerResult;
}

async function peer(script: string, people: number, rateLimit: number, concurrency?: number) {
  const sim = await startSimulator({ seed: 5, faults: { latencyMs: 20, rateLimitPerSec: rateLimit } });
  try {
    const result = await runPeerScript(script, {
      baseUrl: sim.url,
      token: sim.accessToken,
      hidCredentialTypeId: 8,
      people,
      start: 1,
      ...(concurrency ? { concurrency } : {}),
    });
    const stats = sim.stats();
    return {
      ...result,
      seconds: round(result.seconds, 2),
      peoplePerSecond: round(result.peoplePerSecond, 1),
      rateLimited429: stats.rateLimited429,
      duplicates: stats.duplicates,
    };
  } finally {
    await sim.close();
  }
}

export async function peersBench({ quick, log }: BenchOptions): Promise<BenchResult> {
  const started = Date.now();
  const rate = 50;
  const n = {
    sequential: quick ? 100 : 300,
    plimit: quick ? 1_000 : 5_000,
    ours: quick ? 1_000 : 5_000,
    limited: quick ? 300 : 1_000,
  };
  log(`peers: no rate limit, 20 ms latency`);
  const seqFree = await peer('sequential', n.sequential, 0);
  log(`  sequential ${seqFree.peoplePerSecond} people/s`);
  const plimitFree = await peer('plimit', n.plimit, 0, 50);
  log(`  p-limit(50) ${plimitFree.peoplePerSecond} people/s`);
  const oursFree = await pipelineRun({
    people: n.ours,
    workers: 2,
    budget: 10_000,
    sim: { faults: { latencyMs: 20 } },
    env: { DOORFLOW_MAX_IN_FLIGHT: '100', WORKER_CONCURRENCY: '50' },
    log,
  });
  log(`  ours (2 worker processes, concurrency 50) ${oursFree.peoplePerSecond} people/s`);
  // Like for like: the peers deliver nothing, so the same run with DoorFlow emailing the code
  // (no webhook delivery of ours; lifecycle tracking still starts).
  const oursFreeNoDelivery = await pipelineRun({
    people: n.ours,
    workers: 2,
    budget: 10_000,
    delivery: 'doorflow',
    sim: { faults: { latencyMs: 20 } },
    env: { DOORFLOW_MAX_IN_FLIGHT: '100', WORKER_CONCURRENCY: '50' },
    log,
  });
  log(`  ours, delivery by DoorFlow (like the peers) ${oursFreeNoDelivery.peoplePerSecond} people/s`);
  log(`peers: simulator limit ${rate} req/s, 20 ms latency`);
  const seqLimited = await peer('sequential', n.sequential, rate);
  log(`  sequential ${seqLimited.peoplePerSecond} people/s`);
  const plimitLimited = await peer('plimit', n.limited, rate, 50);
  log(`  p-limit(50) ${plimitLimited.peoplePerSecond} people/s, ${plimitLimited.rateLimited429} × 429`);
  const oursLimited = await pipelineRun({
    people: n.limited,
    workers: 1,
    budget: rate,
    sim: { faults: { latencyMs: 20, rateLimitPerSec: rate } },
    log,
  });
  log(`  ours (budget ${rate}) ${oursLimited.peoplePerSecond} people/s`);
  const vsPlimitFree = oursFree.peoplePerSecond / plimitFree.peoplePerSecond;
  const utilisation = oursLimited.requestsPerSecond / rate;
  return {
    name: 'peers',
    durationMs: Date.now() - started,
    figures: {
      noRateLimit: {
        sequential: seqFree,
        plimit50: plimitFree,
        ours: oursFree,
        oursOverSequential: round(oursFree.peoplePerSecond / seqFree.peoplePerSecond, 2),
        oursOverPlimit: round(vsPlimitFree, 2),
        oursDeliveryByDoorFlow: oursFreeNoDelivery,
        oursDeliveryByDoorFlowOverPlimit: round(
          oursFreeNoDelivery.peoplePerSecond / plimitFree.peoplePerSecond,
          2,
        ),
      },
      rateLimited: {
        rateLimit: rate,
        sequential: seqLimited,
        plimit50: plimitLimited,
        ours: oursLimited,
        oursOverSequential: round(oursLimited.peoplePerSecond / seqLimited.peoplePerSecond, 2),
        oursOverPlimit: round(oursLimited.peoplePerSecond / plimitLimited.peoplePerSecond, 2),
        oursBudgetUtilisation: round(utilisation),
      },
    },
    goals: [
      {
        goal: 'no rate limit: ours ÷ p-limit(50) ≥ 1.0',
        value: round(vsPlimitFree, 2),
        met: vsPlimitFree >= 1,
      },
      {
        goal: `rate limit ${rate}: our req/s ÷ budget ≥ 0.95`,
        value: round(utilisation),
        met: utilisation >= 0.95,
      },
      {
        goal: `rate limit ${rate}: our 429s = 0`,
        value: oursLimited.rateLimited429,
        met: oursLimited.rateLimited429 === 0,
      },
    ],
  };
}
