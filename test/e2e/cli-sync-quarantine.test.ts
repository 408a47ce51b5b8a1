import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { type CliHarness, startCliHarness } from '../helpers/cli-harness.ts';
import type { Harness } from '../helpers/pipeline.ts';

/**
 * Acceptance 3 through the real CLI: a deactivation burst over the threshold (from a dated
 * nightly export, so the truncation check must follow the source, not the path) is quarantined
 * with its diff; `sync reject` leaves DoorFlow untouched; `sync approve` applies exactly that plan;
 * both decisions are in the audit log with who made them.
 */
describe('cli: sync plans / approve / reject', () => {
  let world: CliHarness;
  let h: Harness;
  let dir: string;
  let env: Record<string, string>;

  const rows = (from: number, to: number) =>
    Array.from(
      { length: to - from + 1 },
      (_, i) => `Q${from + i},Ann${from + i},Lee,q${from + i}@example.test`,
    );
  const nightly = async (date: string, lines: string[]) => {
    const file = join(dir, `staff-${date}.csv`);
    await writeFile(file, ['Employee ID,First Name,Last Name,Email', ...lines].join('\n'));
    return file;
  };
  const disabled = () => h.sim.people().filter((p) => p.enabled === false).length;
  const quarantinedId = (stdout: string) => /plan (p\S+) quarantined/.exec(stdout)?.[1];

  beforeAll(async () => {
    world = await startCliHarness({ env: { SYNC_SCOPE_PREFIX: 'Q' } });
    ({ h, dir, env } = world);
    const first = await runCli(
      ['sync', '--source', 'csv', '--file', await nightly('2026-11-28', rows(1, 40)), '--wait'],
      env,
    );
    expect(first.code).toBe(0);
    expect(h.sim.stats().people).toBe(40);
  }, 120_000);
  afterAll(async () => {
    await world?.close();
  });

  it('--help for each command', async () => {
    for (const sub of ['plans', 'approve', 'reject']) {
      const help = await runCli(['sync', sub, '--help'], env);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`Usage: doorflow-provisioner sync ${sub}`));
      expect(help.stdout).toContain('--json');
    }
  }, 150_000);

  it('a burst over the threshold is quarantined; reject drops it and DoorFlow is untouched', async () => {
    const writes = h.sim.stats().writeCount;
    // Another night's file: the previous count (40) is found by the source name `csv`.
    const file = await nightly('2026-11-29', rows(1, 12));
    const refused = await runCli(['sync', '--source', 'csv', '--file', file, '--max-offboard', '10%'], env);
    expect(refused.code).toBe(5);
    expect(refused.stdout).toMatch(/fewer than half of the previous sync's 40/);
    expect(refused.stdout).toMatch(/28 people would be offboarded, more than --max-offboard 4/);
    const id = quarantinedId(refused.stdout);
    expect(id).toBeDefined();

    const list = await runCli(['sync', 'plans'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^PLAN\s+QUARANTINED\s+CREATE\s+UPDATE\s+OFFBOARD\s+HEADROOM\s+SOURCE/m);
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+\\S+\\s+0\\s+0\\s+28\\s+—\\s+csv`));
    const json = await runCli(['sync', 'plans', '--json'], env);
    const plans = JSON.parse(json.stdout) as { id: string; plan: { offboard: { name: string }[] } }[];
    expect(plans.map((p) => p.id)).toEqual([id]);
    expect(plans[0]?.plan.offboard).toHaveLength(28);
    // The full diff, names included (sealed in Redis, opened for the operator).
    expect(plans[0]?.plan.offboard.map((o) => o.name)).toContain('Ann13 Lee');

    // At rest the diff is sealed with ENCRYPTION_KEY: no name in Redis.
    const stored = await h.pipeline.redis.get(h.pipeline.keys.quarantinedPlan(String(id)));
    expect(stored).toContain('"sealed":true');
    expect(stored).not.toContain('Ann13');

    const rejected = await runCli(['sync', 'reject', String(id), '--json'], env);
    expect(rejected.code).toBe(0);
    expect(JSON.parse(rejected.stdout)).toMatchObject({ status: 'rejected', summary: { id } });
    expect((await runCli(['sync', 'plans'], env)).stdout).toMatch(/no quarantined plans/);
    expect((await runCli(['sync', 'reject', String(id)], env)).code).toBe(1);
    expect(h.sim.stats().writeCount).toBe(writes);
    expect(disabled()).toBe(0);
  }, 150_000);

  it('approve applies exactly the quarantined plan, once; both decisions are audited with who', async () => {
    const file = await nightly('2026-11-30', rows(1, 12));
    const refused = await runCli(
      ['sync', '--source', 'csv', '--file', file, '--max-offboard', '10%', '--json'],
      env,
    );
    expect(refused.code).toBe(5);
    const report = JSON.parse(refused.stdout) as { sourceName: string; quarantined: { id: string } };
    expect(report.sourceName).toBe('csv');
    const id = report.quarantined.id;

    const approved = await runCli(['sync', 'approve', id, '--json'], env);
    expect(approved.code).toBe(0);
    const result = JSON.parse(approved.stdout) as { status: string; runId: string };
    expect(result.status).toBe('applied');
    const deadline = Date.now() + 30_000;
    while (disabled() < 28 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(disabled()).toBe(28);
    expect(
      h.sim
        .people()
        .filter((p) => p.enabled === false)
        .every((p) => Number(String(p.system_id).slice(1)) > 12),
    ).toBe(true);
    // Taken once: a second approval finds nothing.
    const again = await runCli(['sync', 'approve', id], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no quarantined plan/);

    const audit = await runCli(['audit', 'export'], env);
    const records = audit.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            action: string;
            operator?: string;
            actor: string;
            run_id?: string;
            runId?: string;
          },
      );
    const decisions = records.filter((r) => r.action.startsWith('sync.plan.'));
    expect(decisions.map((r) => r.action).sort()).toEqual(['sync.plan.approve', 'sync.plan.reject']);
    for (const d of decisions) {
      expect(d.actor).toBe('cli:sync');
      expect(d.operator).toMatch(/@.+ \(cli\)$/);
    }
  }, 150_000);

  it('approve refuses, with the numbers, when DoorFlow moved since the plan; the plan stays quarantined', async () => {
    const file = await nightly('2026-12-01', rows(1, 6));
    const refused = await runCli(
      ['sync', '--source', 'csv', '--file', file, '--max-offboard', '1', '--json'],
      env,
    );
    expect(refused.code).toBe(5);
    const id = (JSON.parse(refused.stdout) as { quarantined: { id: string } }).quarantined.id;
    // Two of the six leavers are disabled by hand meanwhile.
    const doorflow = h.pipeline.doorflow();
    for (const sid of ['Q7', 'Q8']) {
      const person = h.sim.people().find((p) => p.system_id === sid);
      await doorflow.updatePerson(Number(person?.id), { enabled: false });
    }
    const writes = h.sim.stats().writeCount;
    const approve = await runCli(['sync', 'approve', id], env);
    expect(approve.code).toBe(5);
    expect(approve.stdout).toMatch(
      /REFUSED: DoorFlow has changed since the plan was made: 2 of 6 offboards no longer match it/,
    );
    expect(h.sim.stats().writeCount).toBe(writes);
    expect((await runCli(['sync', 'plans'], env)).stdout).toContain(id);
  }, 150_000);
});
