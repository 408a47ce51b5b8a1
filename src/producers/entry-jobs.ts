import type { JobsOptions } from 'bullmq';
import { type PayloadInput, type Queues, stepJobId } from '../lib/jobs/registry.ts';

/**
 * How intake's admitted entries become jobs: slices of `batchSize` entries, one `provision` job
 * each (processors/provision.ts), or with a batch size of 1 one `person` job per entry. A batch's
 * job id is its run id + first roster key (+ generation), so adding the same slice twice is a no-op.
 */

type PersonJob = { payload: PayloadInput<'person'>; opts: JobsOptions & { jobId: string } };

export async function addEntryJobs(
  queues: Queues,
  batchSize: number,
  jobs: readonly PersonJob[],
): Promise<void> {
  if (batchSize <= 1) {
    await queues.addBulk('person', [...jobs]);
    return;
  }
  const batches: { payload: PayloadInput<'provision'>; opts: { jobId: string } }[] = [];
  for (let i = 0; i < jobs.length; i += batchSize) {
    const slice = jobs.slice(i, i + batchSize).map((j) => j.payload);
    const first = slice[0];
    if (!first) continue;
    const gen = first.gen ?? 0;
    batches.push({
      payload: {
        runId: first.runId,
        gen,
        entries: slice.map(({ key, delivery, entry, indexed }) => ({ key, delivery, entry, indexed })),
      },
      opts: { jobId: stepJobId(first.runId, first.key, gen) },
    });
  }
  await queues.addBulk('provision', batches);
}
