import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatorOptions } from '../../src/simulator/index.ts';
import { runCli } from '../helpers/cli.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

/** HID credential type discovery (HID_CREDENTIAL_TYPE_ID unset), through the CLI as a user runs it. */
describe('cli: HID credential type discovery', () => {
  let h: Harness | undefined;
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dfp-hid-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function roster(): Promise<string> {
    const file = join(dir, 'r.csv');
    await writeFile(file, 'system_id,first_name,last_name,email\nH1,Ada,Lovelace,ada@example.test\n');
    return file;
  }

  const cases: [string, SimulatorOptions, RegExp][] = [
    [
      'several matching (a wallet variant)',
      { extraCredentialTypes: [{ id: 9, label: 'HID Mobile Wallet' }] },
      /2 HID Mobile credential types[\s\S]*8 "HID Mobile Access"[\s\S]*9 "HID Mobile Wallet"/,
    ],
    ['none matching', { hidTypeLabel: 'Phone Pass' }, /no HID Mobile credential type[\s\S]*8 "Phone Pass"/],
  ];

  for (const [name, sim, listing] of cases) {
    it(`${name}: worker and import refuse to start with exit 3, listing the account's types`, async () => {
      h = await startHarness({ sim });
      const worker = await runCli(['worker'], h.env, 60_000);
      expect(worker.code).toBe(3);
      expect(worker.stderr).toMatch(/HID_CREDENTIAL_TYPE_ID/);
      expect(worker.stderr).toMatch(listing);
      expect(worker.stderr).toMatch(/1 "Card"[\s\S]*2 "PIN"/);
      const imported = await runCli(['import', await roster(), '--delivery', 'webhook'], h.env, 60_000);
      expect(imported.code).toBe(3);
      expect(imported.stderr).toMatch(listing);
      expect(await h.pipeline.queues.get('person').getJobCounts('waiting', 'delayed')).toEqual({
        waiting: 0,
        delayed: 0,
      });
      expect(h.sim.stats().people).toBe(0);
    }, 120_000);
  }

  it('exactly one matching: that type is used', async () => {
    h = await startHarness({ sim: { hidCredentialTypeId: 14 } });
    const res = await runCli(['import', await roster(), '--delivery', 'webhook'], h.env, 60_000);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    await h.startWorkers();
    const runId = (await h.pipeline.runs.list(1))[0]?.id ?? '';
    const done = await h.waitForRun(runId);
    expect(done.counts.provisioned).toBe(1);
    expect(h.sim.credentials().map((c) => c.credential_type_id)).toEqual([14]);
  }, 120_000);
});
