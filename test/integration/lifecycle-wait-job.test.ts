import { afterEach, describe, expect, it } from 'vitest';
import { waitForJob } from '../../src/cli/lifecycle-cli.ts';
import { requestRevocation } from '../../src/processors/lifecycle/schedule.ts';
import { intake } from '../../src/producers/intake.ts';
import { type LifecycleHarness, startLifecycle } from '../helpers/lifecycle.ts';
import { roster } from '../helpers/pipeline.ts';

/**
 * `revoke --wait` / `reissue --wait` read a finished job's result through `waitForJob`. Under load a
 * worker can complete the job between two reads; here that interleaving is forced: the first
 * `getJob` answers with the job as it was (waiting), and only once the worker has completed it.
 */
describe('waitForJob when the job completes between reads', () => {
  let lh: LifecycleHarness | undefined;
  afterEach(async () => {
    await lh?.close();
    lh = undefined;
  });

  it('returns the revocation summary, never the stale null return value', async () => {
    lh = await startLifecycle();
    const l = lh;
    const run = await intake(l.h.pipeline.intakeDeps(), { source: 'test', delivery: 'email' }, roster(1));
    await l.h.waitForRun(run.runId);
    const [cred] = l.h.sim.credentials();
    if (!cred) throw new Error('no credential');
    const personId = cred.person_id;

    const queue = l.h.pipeline.queues.get('revocation');
    const realGetJob = queue.getJob.bind(queue);
    let stale = 0;
    queue.getJob = async (id: string) => {
      const job = await realGetJob(id);
      if (stale === 0 && job && job.finishedOn === undefined) {
        stale += 1;
        // Hold the snapshot until a worker has completed the job: the read now predates completion.
        await l.waitFor('revocation completed', async () =>
          (await queue.getJobState(id)) === 'completed' ? true : undefined,
        );
      }
      return job;
    };

    const jobId = await requestRevocation(l.h.pipeline.queues, { personId, requestId: 'race' });
    const summary = await waitForJob(l.h.pipeline, 'revocation', jobId, Date.now() + 30_000);
    expect(summary).toEqual({ revoking: [cred.id], revoked: [], already: [] });
  }, 60_000);
});
