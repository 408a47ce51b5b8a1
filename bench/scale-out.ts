import { type BenchOptions, type BenchResult, round } from './common.ts';
import { pipelineRun } from './pipeline-run.ts';

/**
 * Benchmark 6, scale-out: 1, 2 and 4 worker processes on one Redis at a fixed fleet budget R
 * (simulator limited to R too): the budget holds (max in any second ≤ R, no 429) and utilisation
 * stays ≥ 0.95 whatever the number of processes.
 */
export async function scaleOutBench({ quick, log }: BenchOptions): Promise<BenchResult> {
  const started = Date.now();
  // 50 req/s: well inside what one process can drive on 2 cores, so the figure is about the
  // budget's coordination across processes, not about CPU.
  const rate = 50;
  const people = quick ? 400 : 1_500;
  const points = [];
  const goals: BenchResult['goals'] = [];
  for (const workers of [1, 2, 4]) {
    log(`scale-out: ${workers} worker process(es), ${people} people, budget ${rate} req/s`);
    const run = await pipelineRun({
      people,
      workers,
      budget: rate,
      sim: { faults: { rateLimitPerSec: rate } },
      log,
    });
    const utilisation = round(run.requestsPerSecond / rate);
    points.push({ ...run, utilisation });
    goals.push(
      { goal: `${workers} worker(s): utilisation ≥ 0.95`, value: utilisation, met: utilisation >= 0.95 },
      {
        goal: `${workers} worker(s): max in any 1 s ≤ ${rate}, no 429`,
        value: `${run.maxRequestsInAnySecond} / ${run.rateLimited429} × 429`,
        met: run.maxRequestsInAnySecond <= rate && run.rateLimited429 === 0,
      },
    );
  }
  return { name: 'scale-out', durationMs: Date.now() - started, figures: { rate, points }, goals };
}
