import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { runSync, type SyncDeps, type SyncOptions } from '../../src/producers/sync/sync.ts';
import { waitForSync } from '../../src/producers/sync/sync-progress.ts';
import { fakeEmployees, startFakeHris } from '../helpers/fake-hris.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

/**
 * Acceptance 3–5 against the simulator over HTTP with real workers: joiners, movers and leavers
 * end up exactly as planned; an identical second sync writes nothing; truncated feeds and
 * over-threshold offboarding are refused unless forced; a feed failing half way offboards nobody.
 */

interface Row {
  id: number;
  department?: string;
  status?: string;
}
const csv = (rows: Row[]) =>
  [
    'Employee Number,First Name,Last Name,Work Email,Department,Status',
    ...rows.map(
      (r) =>
        `HR-${String(r.id).padStart(4, '0')},First${r.id},Last${r.id},emp${r.id}@example.com,${r.department ?? 'Ops'},${r.status ?? 'Active'}`,
    ),
  ].join('\n');
const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
const range = (from: number, to: number, extra: Partial<Row> = {}) =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ id: from + i, ...extra }));

describe('roster sync against the simulator', () => {
  let h: Harness;
  let deps: SyncDeps;
  let dir: string;

  beforeAll(async () => {
    h = await startHarness({ env: { SYNC_SCOPE_PREFIX: 'HR-', DELIVERY_DEFAULT: 'webhook' } });
    await h.startWorkers();
    const processor = h.pipeline.processorDeps();
    deps = {
      config: h.config,
      intake: h.pipeline.intakeDeps(),
      doorflow: processor.doorflow,
      hidCredentialTypeId: () => processor.hidCredentialTypeId(),
      managed: h.pipeline.stores.managed,
      syncRuns: h.pipeline.stores.syncRuns,
      logger: silentLogger(),
    };
    dir = await mkdtemp(join(tmpdir(), 'dfp-sync-'));
  });
  afterAll(async () => {
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function sync(rows: Row[], extra: Partial<SyncOptions> = {}) {
    // One path, as a nightly export would be: the previous-count check is per source.
    const file = join(dir, 'roster.csv');
    await writeFile(file, csv(rows));
    const report = await runSync(deps, { source: 'csv', file, ...extra });
    if (report.runId) await waitForSync(deps, report.runId);
    return report;
  }

  const livePeople = () => h.sim.people().filter((p) => !p.deleted);
  const liveHidOf = (personId: number) =>
    h.sim
      .credentials()
      .filter(
        (c) => c.person_id === personId && ['invited', 'provisioning', 'active'].includes(String(c.status)),
      );

  it('onboards 50 people, then applies 100 joiners + 20 movers + 10 leavers exactly', async () => {
    const first = await sync(range(1, 50));
    expect(first.plan.create).toHaveLength(50);
    expect(livePeople()).toHaveLength(50);

    const roster = [
      ...range(1, 20),
      ...range(21, 40, { department: 'Sales' }),
      ...range(41, 45, { status: 'Terminated' }),
      ...range(51, 150),
    ]; // 46..50 are absent; 41..45 are listed as terminated
    const report = await sync(roster);
    const { plan } = report;
    expect(plan.create.map((c) => c.key)).toEqual(
      range(51, 150).map((r) => `sid:HR-${String(r.id).padStart(4, '0')}`),
    );
    expect(plan.update).toHaveLength(20);
    expect(plan.update.every((u) => JSON.stringify(u.changes) === '{"department":"Sales"}')).toBe(true);
    expect(plan.offboard.map((o) => [o.system_id, o.reason]).sort()).toEqual([
      ...range(41, 45).map((r) => [`HR-${String(r.id).padStart(4, '0')}`, 'inactive']),
      ...range(46, 50).map((r) => [`HR-${String(r.id).padStart(4, '0')}`, 'absent']),
    ]);
    expect(plan.unchanged).toBe(20);
    expect(plan.licences).toEqual({ consume: 100, release: 10 });

    const people = livePeople();
    expect(people).toHaveLength(150);
    const bySid = new Map(people.map((p) => [p.system_id, p]));
    for (const r of range(21, 40))
      expect(bySid.get(`HR-${String(r.id).padStart(4, '0')}`)?.department).toBe('Sales');
    for (const r of range(41, 50)) {
      const p = bySid.get(`HR-${String(r.id).padStart(4, '0')}`)!;
      expect(p.enabled).toBe(false);
      expect(liveHidOf(p.id)).toEqual([]);
      // A leaver's roster email (kept because DoorFlow was not given it) leaves Redis.
      expect(await h.pipeline.people.contact(p.id)).toBeUndefined();
    }
    for (const r of [...range(1, 40), ...range(51, 150)]) {
      const p = bySid.get(`HR-${String(r.id).padStart(4, '0')}`)!;
      expect(p.enabled).not.toBe(false);
      expect(liveHidOf(p.id)).toHaveLength(1);
      expect(await h.pipeline.people.contact(p.id)).toBeDefined();
    }
    expect(h.sim.stats().duplicates).toEqual({
      peopleBySystemId: 0,
      peopleByEmail: 0,
      liveHidCredentials: 0,
    });
    // One invitation per person ever provisioned: movers and unchanged people get none again.
    expect(h.receiver.accepted).toHaveLength(150);

    // The same roster again: list calls only, no writes.
    const before = h.sim.stats();
    const again = await sync(roster);
    const after = h.sim.stats();
    expect(again.plan.create).toEqual([]);
    expect(again.plan.update).toEqual([]);
    expect(again.plan.offboard).toEqual([]);
    expect(again.plan.unchanged).toBe(140);
    expect(again.plan.alreadyOffboarded).toBe(10);
    expect(after.writeCount - before.writeCount).toBe(0);
    const calls = after.requestsTotal - before.requestsTotal;
    // 150 people in scope: two listings (people, the account's credentials), 100 a page.
    expect(calls).toBeLessThanOrEqual(2 * Math.ceil(150 / 100));
    const routes = Object.keys(after.requests).filter(
      (r) =>
        (after.requests[r] ? sum(after.requests[r]) : 0) !==
        (before.requests[r] ? sum(before.requests[r]) : 0),
    );
    expect(routes.every((r) => r.startsWith('GET '))).toBe(true);
  });

  it('refuses a truncated feed and over-threshold offboarding without --force (nothing written), applies with it', async () => {
    const before = h.sim.stats().writeCount;
    const short = range(1, 60); // previous sync counted 145 entries
    const refused = await sync(short);
    expect(refused.refused).toBe(true);
    expect(refused.runId).toBeUndefined();
    expect(refused.plan.safety.refusals).toEqual([
      "the source returned 60 entries, fewer than half of the previous sync's 145 (a truncated feed?)",
      // The 10 leavers offboarded by the previous sync no longer count towards the scope.
      '90 people would be offboarded, more than --max-offboard 25 (default: the larger of 25 or 5 % of 140 people in scope)',
    ]);
    expect(h.sim.stats().writeCount).toBe(before);

    const limited = await sync(range(1, 140), { maxOffboard: '5' });
    expect(limited.refused).toBe(true);
    expect(limited.plan.safety.refusals).toEqual([
      '10 people would be offboarded, more than --max-offboard 5 (5 of 140 people in scope)',
    ]);
    expect(h.sim.stats().writeCount).toBe(before);

    const forced = await sync(range(1, 140), { maxOffboard: '5', force: true });
    expect(forced.refused).toBe(false);
    expect(forced.plan.offboard.map((o) => o.system_id).sort()).toEqual(
      range(141, 150).map((r) => `HR-0${r.id}`),
    );
    // 41..50 are back in the roster: rehires, re-enabled and given a pass again.
    expect(
      forced.plan.create
        .filter((c) => c.reenable)
        .map((c) => c.key)
        .sort(),
    ).toEqual(range(41, 50).map((r) => `sid:HR-00${r.id}`));
    const disabled = livePeople().filter((p) => p.enabled === false);
    expect(disabled.map((p) => p.system_id).sort()).toEqual(range(141, 150).map((r) => `HR-0${r.id}`));
    for (const p of livePeople().filter((x) => x.enabled !== false)) expect(liveHidOf(p.id)).toHaveLength(1);

    // A truncated feed (60 of the previous 140), forced: applied, with the reasons recorded.
    const truncated = await sync(range(1, 60), { force: true });
    expect(truncated.refused).toBe(false);
    expect(truncated.plan.safety.refusals[0]).toBe(
      "the source returned 60 entries, fewer than half of the previous sync's 140 (a truncated feed?)",
    );
    expect(truncated.plan.offboard).toHaveLength(80);
    const off = livePeople().filter((p) => p.enabled === false);
    expect(off.map((p) => p.system_id).sort()).toEqual(
      range(61, 150).map((r) => `HR-${String(r.id).padStart(4, '0')}`),
    );
    for (const p of off) expect(liveHidOf(p.id)).toEqual([]);
  });

  it('a JSON feed failing half way (5xx on page 2) fails the sync cleanly and offboards nobody', async () => {
    const hris = await startFakeHris({
      employees: fakeEmployees(140),
      pageSize: 50,
      fault: ({ path }) => (path.includes('cursor=50') ? { status: 503 } : undefined),
    });
    try {
      const mappingFile = join(dir, 'mapping.json');
      await writeFile(
        mappingFile,
        JSON.stringify({
          system_id: 'employee.id',
          first_name: 'name.first',
          last_name: 'name.last',
          email: 'contact.email',
          active: 'employee.active',
          records: 'data.people',
          next: 'links.next',
        }),
      );
      const before = h.sim.stats().writeCount;
      const runsBefore = (await h.pipeline.runs.list(100)).length;
      await expect(
        runSync(deps, {
          source: 'json',
          url: `${hris.url}/feed/next`,
          mapping: mappingFile,
          timeoutMs: 2_000,
        }),
      ).rejects.toMatchObject({ code: 'source_failed', status: 503 });
      expect(h.sim.stats().writeCount).toBe(before);
      expect((await h.pipeline.runs.list(100)).length).toBe(runsBefore);
    } finally {
      await hris.close();
    }
  });
});
