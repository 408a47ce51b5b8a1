import type { ChildProcess } from 'node:child_process';
import { Queue } from 'bullmq';
import type { RedisConnection } from '../../src/lib/core/redis.ts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/core/clock.ts';
import { AuditLog } from '../../src/lib/store/audit-log.ts';
import { CredentialStore } from '../../src/lib/store/credentials.ts';
import { DeadLetterStore, deadLetterId } from '../../src/lib/store/dead-letters.ts';
import { DeliveryStore } from '../../src/lib/store/deliveries.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { RunNoticeStore } from '../../src/lib/store/run-notices.ts';
import { RunStore } from '../../src/lib/store/runs.ts';
import { SyncRunStore } from '../../src/lib/store/sync-runs.ts';
import { killAndWait, runCli, spawnWorker } from '../helpers/cli.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';
import { deletePrefix, testRedis, uniquePrefix } from '../helpers/redis.ts';

/**
 * Acceptance 1 (retention): `runs purge` (the CLI as a user runs it) and the janitor (a real
 * `worker` process, through its job scheduler) remove every key of an expired run — found by SCAN
 * — and nothing of a live run (old, pending or intake open) or of a fresh finished run.
 */

const DAY = 86_400_000;

interface Fixture {
  expired: string;
  expiredKeys: string[];
  others: string[];
}

/** Every key under the prefix, by SCAN. */
async function scanAll(redis: RedisConnection, prefix: string): Promise<Set<string>> {
  const out = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) out.add(k);
  } while (cursor !== '0');
  return out;
}

/**
 * Four runs written through the stores with a clock in the past: an expired finished one (40 d,
 * with names, a dead letter, sync counters and finish marks), an expired live one (40 d, an entry
 * still pending), one whose intake is still open (40 d) and a fresh finished one (1 d).
 */
async function writeRuns(redis: RedisConnection, prefix: string): Promise<Fixture> {
  const keys = new RedisKeys(prefix);
  const now = Date.now();
  const clock = new ManualClock(now - 41 * DAY);
  const runs = new RunStore(redis, keys, clock);
  const dead = new DeadLetterStore(redis, keys, clock);
  const syncRuns = new SyncRunStore(redis, keys);
  const notices = new RunNoticeStore(redis, keys);

  async function run(id: string, entries: number, settle: 'all' | 'all-but-one' | 'open', withDead = false) {
    await runs.create({ id, source: 'sync:csv', delivery: 'webhook' });
    const names: Record<string, string> = {};
    for (let i = 0; i < entries; i++) {
      await runs.addEntry(id, `sid:E${i}`, 'person');
      names[`sid:E${i}`] = `Person ${i} of ${id}`;
    }
    await runs.setNames(id, names);
    await syncRuns.recordPlan(id, {
      source: 'csv',
      create: entries,
      update: 0,
      offboardPlanned: 1,
      reenablePlanned: 0,
      unchanged: 0,
    });
    await syncRuns.countOffboarded(id, 900, 1);
    if (settle === 'open') return;
    clock.advance(3_600_000);
    const last = settle === 'all-but-one' ? entries - 1 : entries;
    for (let i = 0; i < last; i++) {
      if (withDead && i === 0) {
        await runs.move(id, `sid:E${i}`, 'dead:credential', { code: 'licence_limit' });
        await dead.store({
          queue: 'credential',
          runId: id,
          key: `sid:E${i}`,
          jobId: `${id}--sid%3AE${i}`,
          code: 'licence_limit',
          message: 'limit reached',
          attempts: 1,
          payload: { runId: id, key: `sid:E${i}` },
        });
      } else {
        await runs.move(id, `sid:E${i}`, 'provisioned', { personId: i, credentialId: `c${i}` });
      }
    }
    if (settle === 'all-but-one') await runs.move(id, `sid:E${entries - 1}`, 'credential');
    await runs.closeIntake(id);
    const finishedAt = (await runs.get(id))?.finishedAt;
    if (finishedAt !== undefined) {
      await notices.claimFinish(id, finishedAt, 60 * DAY);
      await notices.claimNotification(id, String(finishedAt), 60 * DAY, clock.now());
    }
  }

  await run('rEXPIRED', 6, 'all', true);
  await run('rOLDPENDING', 4, 'all-but-one');
  await run('rOLDOPEN', 3, 'open');
  clock.set(now - DAY);
  await run('rFRESH', 5, 'all');

  const all = await scanAll(redis, prefix);
  const expiredKeys = [...all].filter((k) => k.includes('rEXPIRED'));
  expiredKeys.push(keys.deadLetter(deadLetterId('rEXPIRED', 'sid:E0', 'credential')));
  // The `dead` index held only the expired run's dead letter: it goes with it (checked apart).
  const others = [...all].filter((k) => !expiredKeys.includes(k) && k !== keys.deadLetters);
  return { expired: 'rEXPIRED', expiredKeys, others };
}

async function expectPurged(redis: RedisConnection, prefix: string, f: Fixture): Promise<void> {
  const keys = new RedisKeys(prefix);
  const after = await scanAll(redis, prefix);
  expect([...after].filter((k) => k.includes(f.expired))).toEqual([]);
  for (const k of f.expiredKeys) expect(after.has(k), k).toBe(false);
  for (const k of f.others) expect(after.has(k), k).toBe(true);
  expect((await redis.zrange(keys.runs, 0, -1)).sort()).toEqual(['rFRESH', 'rOLDOPEN', 'rOLDPENDING']);
  expect(await redis.zcard(keys.deadLetters)).toBe(0);
  // The live and fresh runs are whole: entries, names, counters.
  for (const [id, n] of [
    ['rOLDPENDING', 4],
    ['rOLDOPEN', 3],
    ['rFRESH', 5],
  ] as const) {
    expect(await redis.hlen(keys.runStatus(id))).toBe(n);
    expect(await redis.hlen(keys.runNames(id))).toBe(n);
  }
}

describe('retention: runs purge and the janitor', () => {
  let h: Harness;
  let redis: RedisConnection;
  let prefix: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    h = await startHarness();
    redis = testRedis();
  });
  afterEach(async () => {
    await Promise.all(children.map((c) => killAndWait(c, 'SIGKILL')));
    children.length = 0;
    await deletePrefix(redis, prefix);
  });
  afterAll(async () => {
    await h?.close();
    await redis?.quit();
  });

  it('runs purge: --dry-run removes nothing; then every key of the expired run goes, the live and fresh runs stay', async () => {
    prefix = uniquePrefix('purge');
    const env = { ...h.env, QUEUE_PREFIX: prefix };
    const f = await writeRuns(redis, prefix);
    // The fixture holds what a run leaves: statuses, details, people's names, sync counters, marks.
    expect(f.expiredKeys.length).toBeGreaterThanOrEqual(8);
    const before = await scanAll(redis, prefix);

    const dry = await runCli(['runs', 'purge', '--dry-run', '--json'], env);
    expect(dry.code, dry.stderr).toBe(0);
    const drySummary = JSON.parse(dry.stdout) as Record<string, unknown>;
    expect(drySummary).toMatchObject({ runs: 1, entries: 6, deadLetters: 1, keptLive: 2, dryRun: true });
    expect(drySummary.runIds).toEqual(['rEXPIRED']);
    expect(await scanAll(redis, prefix)).toEqual(before);

    const human = await runCli(['runs', 'purge'], env);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^removed 1 run \(6 entries, \d+ keys, [\d.]+ KB, 1 dead letter\)/);
    expect(human.stdout).toContain('kept 2 live runs');
    expect(human.stdout).not.toContain('Person 0');
    await expectPurged(redis, prefix, f);

    // Nothing left to do: a second purge removes nothing.
    const again = await runCli(['runs', 'purge', '--older-than', '30d'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^no run to remove/);
    const bad = await runCli(['runs', 'purge', '--older-than', 'soon'], env);
    expect(bad.code).toBe(2);
  }, 120_000);

  it('the janitor in a real worker: same removal, plus expired revoked credentials and audit records, with an audit record', async () => {
    prefix = uniquePrefix('janitor');
    const env = { ...h.env, QUEUE_PREFIX: prefix };
    const keys = new RedisKeys(prefix);
    const f = await writeRuns(redis, prefix);
    const credentials = new CredentialStore(redis, keys);
    const deliveries = new DeliveryStore(redis, keys);
    const now = Date.now();
    const credential = async (id: string, personId: number, status: string, atMs: number) => {
      const meta = { personId, systemId: `E${personId}`, channel: 'webhook' };
      await credentials.recordStatus({ id, status: 'invited', atMs: atMs - DAY, source: 'create', meta });
      await deliveries.record(id, 'webhook', { runId: 'rFRESH', key: `sid:E${personId}`, at: atMs - DAY });
      if (status !== 'invited') await credentials.recordStatus({ id, status, atMs, source: 'revoke' });
    };
    await credential('cOLD', 1, 'revoked', now - 40 * DAY);
    await credential('cNEW', 2, 'revoked', now - DAY);
    await credential('cLIVE', 3, 'active', now - 40 * DAY);
    // An audit record past AUDIT_RETENTION (400 d) on a quiet fleet: no later append trims it.
    const audit = new AuditLog(redis, keys, new ManualClock(now - 500 * DAY), { retentionMs: 400 * DAY });
    await audit.record({ actor: 't', action: 'person.create', targetType: 'person', targetId: '1' });
    const oldKeys = [
      keys.credential('cOLD'),
      keys.credentialHistory('cOLD'),
      keys.delivered('cOLD', 'webhook'),
      keys.personOfSystemId('E1'),
    ];
    for (const k of oldKeys) expect(await redis.exists(k), k).toBe(1);
    const others = [...f.others.filter((k) => k !== keys.audit)];

    children.push(await spawnWorker({ ...env, JANITOR_EVERY: '1h' }));
    // The scheduler's first tick comes at once; wait for the expired run to go.
    const deadline = Date.now() + 60_000;
    while ((await redis.exists(keys.run('rEXPIRED'))) === 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    let records: { action: string; actor: string; after?: Record<string, unknown> }[] = [];
    while (Date.now() < deadline) {
      records = [];
      for await (const e of audit.read()) records.push(e);
      if (records.some((r) => r.action === 'retention.purge')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await expectPurged(redis, prefix, { ...f, others });
    for (const k of oldKeys) expect(await redis.exists(k), k).toBe(0);
    expect(await credentials.get('cNEW')).toMatchObject({ status: 'revoked' });
    expect(await redis.exists(keys.delivered('cNEW', 'webhook'))).toBe(1);
    expect(await credentials.get('cLIVE')).toMatchObject({ status: 'active' });
    expect(await credentials.ofPerson(1)).toEqual([]);
    expect(await redis.zrange(keys.credentialsByStatus('revoked'), 0, -1)).toEqual(['cNEW']);
    expect(records.map((r) => r.action)).toEqual(['retention.purge']);
    expect(records[0]).toMatchObject({
      actor: 'janitor',
      after: { runs: 1, entries: 6, deadLetters: 1, revokedCredentials: 1, auditRecords: 1, keptLiveRuns: 2 },
    });
    // One schedule for the fleet: a second worker upserts the same one.
    children.push(await spawnWorker(env));
    const queue = new Queue('janitor', { connection: redis, prefix });
    expect(await queue.getJobSchedulersCount()).toBe(1);
    await queue.close();
  }, 180_000);
});
