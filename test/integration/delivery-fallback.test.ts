import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { importCsv } from '../../src/producers/csv-import.ts';
import type { ProvisionPayload } from '../../src/lib/jobs/registry.ts';
import { intake } from '../../src/producers/intake.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

/** A roster row the run's channel cannot reach goes by the first fallback channel that can. */
describe('delivery fallback order at intake', () => {
  let h: Harness | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function personJobs(harness: Harness): Promise<Record<string, string>> {
    // Entries wait in batch jobs (`provision`), or one `person` job each with JOBS_BATCH_SIZE=1.
    const states = ['waiting', 'delayed', 'prioritized'] as const;
    const single = await harness.pipeline.queues.get('person').getJobs([...states]);
    const batches = await harness.pipeline.queues.get('provision').getJobs([...states]);
    return Object.fromEntries([
      ...single.map((job) => [job.data.key, job.data.delivery]),
      ...batches.flatMap((job) => (job.data as ProvisionPayload).entries.map((e) => [e.key, e.delivery])),
    ]);
  }

  it('CSV import: email for those with an address, SMS for those without, refused when neither', async () => {
    h = await startHarness();
    dir = await mkdtemp(join(tmpdir(), 'dfp-fallback-'));
    const file = join(dir, 'roster.csv');
    await writeFile(
      file,
      [
        'Employee ID,First Name,Last Name,Work Email,Mobile Phone',
        'F1,Ana,Lopes,ana@example.test,',
        'F2,Bo,Ek,,07700 900123',
        'F3,Cy,Dal,,',
      ].join('\n'),
    );
    const summary = await importCsv(h.pipeline.intakeDeps(false), {
      file,
      delivery: 'email',
      fallback: ['sms'],
      defaultCountry: 'GB',
    });
    expect(summary.run?.accepted).toBe(2);
    expect(summary.run?.rejected).toBe(1);
    expect(await personJobs(h)).toEqual({ 'sid:F1': 'email', 'sid:F2': 'sms' });
  });

  it('intake applies the run’s fallback to entries from any producer', async () => {
    h = await startHarness();
    const run = await intake(
      h.pipeline.intakeDeps(false),
      { source: 'test', delivery: 'doorflow', fallback: ['sms', 'webhook'] },
      [
        { system_id: 'G1', first_name: 'Di', last_name: 'Fox', email: 'di@example.test' },
        { system_id: 'G2', first_name: 'Ed', last_name: 'Gul', mobile: '+447700900124' },
        { system_id: 'G3', first_name: 'Fi', last_name: 'Hay' },
      ],
    );
    expect(run.accepted).toBe(3);
    expect(run.rejected).toEqual([]);
    expect(await personJobs(h)).toEqual({ 'sid:G1': 'doorflow', 'sid:G2': 'sms', 'sid:G3': 'webhook' });
  });
});
