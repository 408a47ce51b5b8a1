import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { killAndWait, spawnWorker } from '../helpers/cli.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

describe('cli: worker shutdown', () => {
  let h: Harness | undefined;
  const children: ChildProcess[] = [];
  afterEach(async () => {
    await Promise.all(children.map((c) => killAndWait(c, 'SIGKILL')));
    children.length = 0;
    await h?.close();
    h = undefined;
  });

  it('SIGTERM finishes in-flight jobs and exits 0; nothing is left active or has to be recovered', async () => {
    h = await startHarness({ sim: { faults: { latencyMs: 150 } } });
    const worker = await spawnWorker(h.env);
    children.push(worker);
    const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, roster(300));
    const settled = async () => (await h!.pipeline.runs.get(run.runId))?.counts.provisioned ?? 0;
    const deadline = Date.now() + 30_000;
    while ((await settled()) < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const exit = new Promise<{ code: number | null; ms: number }>((resolve) => {
      const t0 = Date.now();
      worker.once('exit', (code) => resolve({ code, ms: Date.now() - t0 }));
    });
    worker.kill('SIGTERM');
    const { code, ms } = await exit;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(15_000);
    const active = await Promise.all(
      ['person', 'credential', 'invitation', 'delivery-webhook'].map((q) =>
        h!.pipeline.queues.get(q as 'person').getActiveCount(),
      ),
    );
    expect(active).toEqual([0, 0, 0, 0]);
    expect(await settled()).toBeLessThan(300);

    children.push(await spawnWorker(h.env));
    const done = await h.waitForRun(run.runId, 150_000);
    expect(done.counts.provisioned).toBe(300);
    expect(done.retries).toEqual({});
    expect(h.sim.stats().duplicates).toEqual({
      peopleBySystemId: 0,
      peopleByEmail: 0,
      liveHidCredentials: 0,
    });
  }, 200_000);
});
