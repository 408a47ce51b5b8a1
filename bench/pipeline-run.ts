import { startChaosEnv } from '../chaos/harness.ts';
import { chaosRoster } from '../chaos/roster.ts';
import type { Env } from '../src/lib/core/config.ts';
import type { SimulatorOptions } from '../src/simulator/index.ts';
import { round, yieldToSimulator } from './common.ts';

/**
 * One measured run of the whole pipeline: a private redis-server, the simulator, a delivery
 * receiver and `workers` real worker processes (`doorflow-provisioner worker`, as deployed).
 * People are enqueued through intake (as `import` does), then the clock runs until the run record
 * says every entry is finished. Figures come from the simulator's own counters.
 */

export interface PipelineRunOptions {
  people: number;
  workers: number;
  /** Fleet budget, req/s (DOORFLOW_RATE_LIMIT). */
  budget: number;
  sim?: SimulatorOptions;
  env?: Env;
  log?: (line: string) => void;
  timeoutMs?: number;
  /** How codes reach people (default `webhook`: signed delivery to the harness's receiver). */
  delivery?: 'webhook' | 'doorflow';
}

export interface PipelineRunFigures {
  people: number;
  workers: number;
  budget: number;
  provisioned: number;
  dead: number;
  wallSeconds: number;
  peoplePerSecond: number;
  requests: number;
  activeSeconds: number;
  requestsPerSecond: number;
  maxRequestsInAnySecond: number;
  rateLimited429: number;
  callsPerPerson: number;
  redisPeakUsedMemoryMb: number;
}

export async function pipelineRun(options: PipelineRunOptions): Promise<PipelineRunFigures> {
  const env = await startChaosEnv({
    sim: { seed: 3, ...options.sim },
    env: {
      QUEUE_PREFIX: '{bench}',
      DOORFLOW_RATE_LIMIT: String(options.budget),
      JOB_BACKOFF_MS: '500',
      ...options.env,
    },
  });
  try {
    await env.startWorkers(options.workers);
    for (const w of env.workers) yieldToSimulator(w.pid);
    const rows = chaosRoster(options.people);
    let peakMemory = 0;
    const memTimer = setInterval(() => {
      void env.pipeline.redis.info('memory').then((text) => {
        const used = Number(/used_memory:(\d+)/.exec(text)?.[1] ?? 0);
        peakMemory = Math.max(peakMemory, used);
      });
    }, 500);
    const started = Date.now();
    const run = await env.intake(rows, 'bench', options.delivery);
    options.log?.(`  ${options.people} people enqueued in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const record = await env.waitForRun(run.runId, options.timeoutMs ?? 3_600_000);
    // The run's own finish stamp (the worker's clock, same machine), not when our 200 ms poll saw it.
    const wall = ((record.finishedAt ?? Date.now()) - started) / 1000;
    // No sampling of the simulator during the run: its stats() runs in the simulator's event loop
    // and would delay (and bunch) the arrival stamps it is measuring. The rate is over the whole
    // run, intake to last delivery, so it errs low by the pipeline's tail (a few ms).
    const requests = env.sim.stats().requestsTotal;
    const traffic = { requests, activeSeconds: wall, rate: requests / wall };
    clearInterval(memTimer);
    const stats = env.sim.stats();
    return {
      people: options.people,
      workers: options.workers,
      budget: options.budget,
      provisioned: record.counts.provisioned ?? 0,
      dead: record.dead,
      wallSeconds: round(wall, 2),
      peoplePerSecond: round(options.people / wall, 1),
      requests: traffic.requests,
      activeSeconds: round(traffic.activeSeconds, 2),
      requestsPerSecond: round(traffic.rate, 2),
      maxRequestsInAnySecond: stats.maxRequestsInAnySecond,
      rateLimited429: stats.rateLimited429,
      callsPerPerson: round(stats.requestsTotal / options.people, 3),
      redisPeakUsedMemoryMb: round(peakMemory / 2 ** 20, 1),
    };
  } finally {
    await env.close();
  }
}
