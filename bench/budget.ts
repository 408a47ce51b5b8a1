import { type BenchOptions, type BenchResult, round } from './common.ts';
import { pipelineRun } from './pipeline-run.ts';

/**
 * Benchmark 1, budget use: N people through the whole pipeline against the simulator limited to
 * R req/s with the fleet budget set to R (issue 16, acceptance 4). Our req/s ÷ budget (goal ≥ 0.97), the most requests the
 * simulator saw in any sliding second (goal ≤ R), 429s (goal 0), and wall time ÷ the theoretical
 * minimum (3 calls per person ÷ R, as the issue defines it; our pipeline needs ~2 calls per person,
 * so the wall time ÷ our own calls ÷ R is reported too).
 */
export async function budgetBench({ quick, log }: BenchOptions): Promise<BenchResult> {
  const started = Date.now();
  const people = quick ? 1_000 : 10_000;
  const rate = 50;
  log(`budget: ${people} people, simulator limit ${rate} req/s, budget ${rate} req/s, 1 worker process`);
  const run = await pipelineRun({
    people,
    workers: 1,
    budget: rate,
    sim: { faults: { rateLimitPerSec: rate } },
    log,
  });
  const utilisation = run.requestsPerSecond / rate;
  const min3 = (3 * people) / rate;
  const minOwn = run.requests / rate;
  return {
    name: 'budget',
    durationMs: Date.now() - started,
    figures: {
      ...run,
      rateLimit: rate,
      utilisation: round(utilisation),
      theoreticalMinSeconds3Calls: round(min3, 1),
      wallOverTheoreticalMin3Calls: round(run.wallSeconds / min3),
      theoreticalMinSecondsOwnCalls: round(minOwn, 1),
      wallOverTheoreticalMinOwnCalls: round(run.wallSeconds / minOwn),
    },
    goals: [
      {
        goal: `our req/s ÷ budget ≥ 0.97 (${people} people)`,
        value: round(utilisation),
        met: utilisation >= 0.97,
      },
      {
        goal: `max requests in any 1 s ≤ R (${rate})`,
        value: run.maxRequestsInAnySecond,
        met: run.maxRequestsInAnySecond <= rate,
      },
      { goal: '429 responses = 0', value: run.rateLimited429, met: run.rateLimited429 === 0 },

      { goal: 'every person provisioned', value: run.provisioned, met: run.provisioned === people },
    ],
  };
}
