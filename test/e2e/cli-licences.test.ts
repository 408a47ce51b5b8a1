import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { type CliHarness, startCliHarness } from '../helpers/cli-harness.ts';
import type { Harness } from '../helpers/pipeline.ts';

/**
 * Acceptance 4 through the real CLI, against a simulator with 100 HID licences: a 120-person
 * import is refused before any write (exit 5, the numbers shown); with --allow-partial 100 get
 * passes and 20 are dead-lettered `licence_limit` (and the worker learns the limit); `reclaim`
 * revokes the invitations nobody redeemed (never a redeemed pass) and `dlq replay` completes the rest.
 */
describe('cli: licence headroom, import --allow-partial, reclaim', () => {
  let world: CliHarness;
  let h: Harness;
  let dir: string;
  let limited: Record<string, string>;

  const csv = (from: number, n: number) =>
    [
      'system_id,first_name,last_name,email',
      ...Array.from({ length: n }, (_, i) => `L${from + i},Ann${from + i},Lee,l${from + i}@example.test`),
    ].join('\n');
  const liveHid = () =>
    h.sim.credentials().filter((c) => ['invited', 'provisioning', 'active'].includes(String(c.status)));

  beforeAll(async () => {
    // The worker has no HID_LICENCE_LIMIT: it learns the limit at the first limit_reached.
    world = await startCliHarness({ sim: { licenceLimit: 100, revokeDelayMs: 50 } });
    ({ h, dir } = world);
    limited = { ...world.env, HID_LICENCE_LIMIT: '100' };
  }, 120_000);
  afterAll(async () => {
    await world?.close();
  });

  it('refuses a 120-person import into 100 licences of headroom before any write (exit 5, numbers shown)', async () => {
    const file = join(dir, 'event.csv');
    await writeFile(file, csv(1, 120));
    const res = await runCli(['import', file, '--delivery', 'webhook'], limited);
    expect(res.code).toBe(5);
    expect(res.stdout).toMatch(
      /licence headroom: 100 of 100 HID licences free \(0 live; limit HID_LICENCE_LIMIT\); this import needs 120/,
    );
    expect(res.stdout).toMatch(
      /REFUSED: 120 people need a new HID licence, 20 more than the 100 free \(limit 100, 0 live\); nothing was written/,
    );
    expect(h.sim.stats().writeCount).toBe(0);
    expect(await h.pipeline.runs.list(10)).toEqual([]);
    const json = await runCli(['import', file, '--json'], limited);
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout)).toMatchObject({
      refused: true,
      licences: { need: 120, headroom: { free: 100 } },
    });
  }, 150_000);

  it('--allow-partial provisions 100 and dead-letters 20 licence_limit; reclaim frees the unredeemed; dlq replay completes the rest', async () => {
    const file = join(dir, 'event.csv');
    const partial = await runCli(
      ['import', file, '--delivery', 'webhook', '--allow-partial', '--wait'],
      limited,
    );
    expect(partial.code).toBe(1);
    expect(partial.stdout).toMatch(/failed: licence_limit\s+20/);
    expect(partial.stdout).toMatch(/provisioned\s+100/);
    const runId = /run (r[\w-]+):/.exec(partial.stdout)?.[1];
    expect(runId).toBeDefined();
    expect(liveHid()).toHaveLength(100);
    // Learned from the first limit_reached: without HID_LICENCE_LIMIT the next import is refused too.
    expect(await h.pipeline.stores.licences.learned()).toBe(100);
    const more = join(dir, 'more.csv');
    await writeFile(more, csv(500, 3));
    const learned = await runCli(['import', more], h.env);
    expect(learned.code).toBe(5);
    expect(learned.stdout).toMatch(
      /0 of 100 HID licences free \(100 live; limit learned from DoorFlow's first limit_reached\)/,
    );

    // 30 people redeem their invitation: their passes are never reclaimed.
    const redeemed = h.sim.credentials().slice(0, 30);
    for (const c of redeemed) expect(h.sim.acceptInvitation(String(c.invitation_code)).ok).toBe(true);

    const help = await runCli(['reclaim', '--help'], h.env);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--older-than <duration>/);
    const young = await runCli(['reclaim', '--older-than', '14d', '--dry-run', '--json'], h.env);
    expect(young.code).toBe(0);
    expect(JSON.parse(young.stdout)).toMatchObject({ dryRun: true, candidates: [] });
    const dry = await runCli(['reclaim', '--older-than', '0s', '--dry-run'], h.env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^70 unredeemed invitations older than 0s/m);
    expect(liveHid()).toHaveLength(100);

    const reclaim = await runCli(['reclaim', '--older-than', '0s', '--json'], h.env);
    expect(reclaim.code).toBe(0);
    expect(JSON.parse(reclaim.stdout)).toMatchObject({ revoked: 70, stillRevoking: [] });
    expect(liveHid()).toHaveLength(30);
    const redeemedIds = new Set(redeemed.map((c) => c.id));
    expect(liveHid().every((c) => redeemedIds.has(c.id))).toBe(true);

    const replay = await runCli(['dlq', 'replay', '--code', 'licence_limit'], h.env);
    expect(replay.code).toBe(0);
    const run = await h.waitForRun(String(runId));
    expect(run.dead).toBe(0);
    expect(run.counts.provisioned).toBe(120);
    expect(liveHid()).toHaveLength(50);

    const audit = await runCli(['audit', 'export'], h.env);
    expect(audit.stdout).toMatch(/"action":"credential\.reclaim\.request"/);
  }, 150_000);
});
