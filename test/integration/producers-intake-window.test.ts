import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { outstandingEntries } from '../../src/producers/backpressure.ts';
import { importCsv } from '../../src/producers/csv-import.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

/**
 * Backpressure: an import never keeps more than `--window` unsettled entries of its run in Redis,
 * and keeps feeding as the pipeline drains. (The 200,000-row / 20,000-window figure is measured by
 * `bench/import-window.ts` and recorded in BENCHMARKS.md.)
 */
describe('import backpressure', () => {
  let h: Harness | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function rosterFile(n: number): Promise<string> {
    dir = await mkdtemp(join(tmpdir(), 'dfp-window-'));
    const file = join(dir, 'roster.csv');
    const rows = Array.from({ length: n }, (_, i) => `W${i},First${i},Last${i},w${i}@example.test`);
    await writeFile(file, ['system_id,first_name,last_name,email', ...rows].join('\n'));
    return file;
  }

  it('stops at the window while nothing drains, then feeds the rest as workers settle entries', async () => {
    h = await startHarness();
    const file = await rosterFile(600);
    const window = 100;
    const harness = h;
    let maxOutstanding = 0;
    let maxWaiting = 0;
    const importing = importCsv(harness.pipeline.intakeDeps(), { file, delivery: 'webhook', window });
    // No workers yet: intake must park at the window.
    let runId: string | undefined;
    for (let i = 0; i < 200 && !runId; i += 1) {
      runId = await harness.pipeline.runs.latestId();
      if (!runId) await new Promise((r) => setTimeout(r, 25));
    }
    expect(runId).toBeDefined();
    const sample = async () => {
      const run = await harness.pipeline.runs.get(runId!);
      if (run) maxOutstanding = Math.max(maxOutstanding, outstandingEntries(run));
      // Jobs of the run parked in Redis (not being processed), whatever step they are at. An active
      // job may already have added its successor, so active ones would count an entry twice.
      let jobs = 0;
      for (const step of ['person', 'credential', 'invitation', 'delivery-webhook'] as const) {
        const counts = await harness.pipeline.queues
          .get(step)
          .getJobCounts('waiting', 'delayed', 'prioritized');
        jobs += Object.values(counts).reduce((a, b) => a + b, 0);
      }
      // A batch job parks its slice of entries: count the entries, not the job.
      const batches = await harness.pipeline.queues
        .get('provision')
        .getJobs(['waiting', 'delayed', 'prioritized']);
      for (const job of batches) jobs += job.data.entries.length;
      maxWaiting = Math.max(maxWaiting, jobs);
      return run;
    };
    let parked = await sample();
    for (let i = 0; i < 100 && (parked?.total ?? 0) < 2 * window; i += 1) {
      await new Promise((r) => setTimeout(r, 25));
      parked = await sample();
    }
    await new Promise((r) => setTimeout(r, 500));
    parked = await sample();
    // `window` jobs queued; the next batch is registered in the run but held back.
    expect(maxWaiting).toBe(window);
    expect(parked?.total).toBe(2 * window);

    await harness.startWorkers();
    let done = false;
    const sampler = (async () => {
      while (!done) {
        await sample();
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const summary = await importing;
    const finished = await harness.waitForRun(runId!, 120_000);
    done = true;
    await sampler;
    expect(summary.run?.accepted).toBe(600);
    expect(finished.counts.provisioned).toBe(600);
    expect(maxWaiting).toBeLessThanOrEqual(window);
    // Outstanding counts the held-back batch too: at most window + one batch.
    expect(maxOutstanding).toBeLessThanOrEqual(2 * window);
  }, 120_000);
});
