import { deadLetterId } from '../src/lib/store/dead-letters.ts';
import { QUEUE_NAMES, type QueueName } from '../src/lib/jobs/registry.ts';
import type { ChaosEnv } from './harness.ts';

/**
 * The end-of-scenario check, the same for every chaos scenario:
 * 1. every valid roster entry has exactly one live DoorFlow person, exactly one live HID credential
 *    and at least one confirmed (signature-verified) delivery of that credential;
 * 2. no duplicates of any kind: the simulator's duplicate groups (people by system_id, by email,
 *    live HID credentials per person) are empty, no extra people or credentials exist, and no
 *    credential was delivered under two different delivery ids;
 * 3. nothing is left active or waiting in any queue (lifecycle timers such as reminders may wait
 *    as delayed jobs: they are counted, not faulted); no pipeline job is left delayed;
 * 4. every failure is in the dead-letter store with a reason: each entry of a run that ended
 *    dead has a live record with a code and a message.
 * Entries listed in `expectDead` must instead be dead (and are exempt from point 1).
 */

const LIVE = new Set(['invited', 'provisioning', 'active']);
const HID_TYPE = 8;
const PIPELINE_QUEUES: QueueName[] = ['person', 'credential', 'invitation', 'delivery-webhook'];

export interface InvariantInput {
  /** Valid roster rows that must end provisioned. */
  rows: readonly { system_id: string; email: string }[];
  runIds: readonly string[];
  /** Roster keys expected to end dead-lettered (not provisioned). */
  expectDead?: ReadonlySet<string>;
}

export interface InvariantReport {
  ok: boolean;
  violations: string[];
  figures: {
    people: number;
    liveHidCredentials: number;
    confirmedDeliveries: number;
    receiverRepeats: number;
    duplicates: { peopleBySystemId: number; peopleByEmail: number; liveHidCredentials: number };
    deadLetters: number;
    leftActiveOrWaiting: number;
    lifecycleDelayed: number;
  };
}

export async function checkInvariants(env: ChaosEnv, input: InvariantInput): Promise<InvariantReport> {
  const violations: string[] = [];
  const add = (v: string) => {
    if (violations.length < 50) violations.push(v);
  };
  const expectDead = input.expectDead ?? new Set<string>();
  const people = env.sim.people().filter((p) => !p.deleted);
  const bySid = new Map<string, number[]>();
  for (const p of people) {
    const sid = p.system_id ?? '';
    bySid.set(sid, [...(bySid.get(sid) ?? []), p.id]);
  }
  const liveByPerson = new Map<number, string[]>();
  for (const c of env.sim.credentials()) {
    if (c.credential_type_id !== HID_TYPE || !LIVE.has(c.status ?? '')) continue;
    liveByPerson.set(c.person_id, [...(liveByPerson.get(c.person_id) ?? []), c.id]);
  }
  const delivered = env.receiver.countsByCredential();

  // 1. Each valid entry: one person, one live HID credential, a confirmed delivery.
  let expectedPeople = 0;
  for (const row of input.rows) {
    const key = `sid:${row.system_id}`;
    const ids = bySid.get(row.system_id) ?? [];
    if (expectDead.has(key)) continue;
    expectedPeople++;
    if (ids.length !== 1) {
      add(`${row.system_id}: ${ids.length} people`);
      continue;
    }
    const creds = liveByPerson.get(ids[0] as number) ?? [];
    if (creds.length !== 1) {
      add(`${row.system_id}: ${creds.length} live HID credentials`);
      continue;
    }
    if (!delivered.get(creds[0] as string)) add(`${row.system_id}: no confirmed delivery`);
  }

  // 2. No duplicates of any kind.
  const stats = env.sim.stats();
  const dup = stats.duplicates;
  if (dup.peopleBySystemId || dup.peopleByEmail || dup.liveHidCredentials) {
    add(`simulator duplicates ${JSON.stringify(dup)}`);
  }
  const allowedPeople = expectedPeople + countPresent(expectDead, bySid);
  if (people.length > allowedPeople) add(`${people.length} people, expected at most ${allowedPeople}`);
  const liveHid = [...liveByPerson.values()].reduce((n, ids) => n + ids.length, 0);
  if (liveHid > expectedPeople) add(`${liveHid} live HID credentials for ${expectedPeople} entries`);
  for (const [credentialId, n] of delivered) {
    if (n > 1) add(`credential ${credentialId} delivered ${n} times under different delivery ids`);
  }

  // 3. Nothing active or waiting. A run finishes when its last entry settles; the batch job that
  // settled it completes a moment later, and after a failover a job whose completion the dead
  // master never replicated comes back once its lock expires and completes again (writing
  // nothing). So the queues get a grace to drain; what is still there after it is work left behind.
  await drainQueues(env, 20_000);
  let left = 0;
  let lifecycleDelayed = 0;
  for (const name of QUEUE_NAMES) {
    // The lifecycle scheduler ticks every LIFECYCLE_TICK for ever: a tick in flight is not work left.
    if (name === 'lifecycle-tick') continue;
    const counts = await env.pipeline.queues
      .get(name)
      .getJobCounts('active', 'wait', 'prioritized', 'waiting-children', 'delayed');
    const stuck =
      (counts.active ?? 0) +
      (counts.wait ?? 0) +
      (counts.prioritized ?? 0) +
      (counts['waiting-children'] ?? 0);
    left += stuck;
    if (stuck > 0) add(`queue ${name}: ${JSON.stringify(counts)}`);
    if (PIPELINE_QUEUES.includes(name) && (counts.delayed ?? 0) > 0) {
      add(`pipeline queue ${name} still has ${counts.delayed} delayed jobs`);
    } else lifecycleDelayed += counts.delayed ?? 0;
  }

  // 4. Every failure dead-lettered with a reason; runs finished.
  let deadLetters = 0;
  for (const runId of input.runIds) {
    const run = await env.pipeline.runs.get(runId);
    if (run?.finishedAt === undefined) add(`run ${runId} not finished: ${JSON.stringify(run?.counts)}`);
    for (const entry of await env.pipeline.runs.entries(runId)) {
      if (!entry.status.startsWith('dead:')) {
        if (expectDead.has(entry.key)) add(`${entry.key}: expected dead, is ${entry.status}`);
        continue;
      }
      deadLetters++;
      if (!expectDead.has(entry.key)) add(`${entry.key}: unexpectedly dead at ${entry.status}`);
      const record = await env.pipeline.deadLetters.get(
        deadLetterId(runId, entry.key, entry.status.slice(5)),
      );
      if (record?.state !== 'dead') add(`${entry.key}: dead without a live dead-letter record`);
      else if (!record.code || !record.message) add(`${entry.key}: dead-letter record without a reason`);
    }
  }

  return {
    ok: violations.length === 0,
    violations,
    figures: {
      people: people.length,
      liveHidCredentials: liveHid,
      confirmedDeliveries: delivered.size,
      receiverRepeats: env.receiver.repeats(),
      duplicates: dup,
      deadLetters,
      leftActiveOrWaiting: left,
      lifecycleDelayed,
    },
  };
}

/** Waits (at most `graceMs`) until no queue but the lifecycle scheduler's holds an active or waiting job. */
async function drainQueues(env: ChaosEnv, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    let busy = 0;
    for (const name of QUEUE_NAMES) {
      if (name === 'lifecycle-tick') continue;
      const counts = await env.pipeline.queues.get(name).getJobCounts('active', 'wait', 'prioritized');
      busy += (counts.active ?? 0) + (counts.wait ?? 0) + (counts.prioritized ?? 0);
    }
    if (busy === 0 || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function countPresent(keys: ReadonlySet<string>, bySid: Map<string, number[]>): number {
  let n = 0;
  for (const key of keys) if (key.startsWith('sid:') && bySid.has(key.slice(4))) n++;
  return n;
}
