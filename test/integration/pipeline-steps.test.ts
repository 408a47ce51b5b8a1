import { afterEach, describe, expect, it } from 'vitest';
import { replayDeadLetters } from '../../src/processors/services/replay.ts';
import { intake } from '../../src/producers/intake.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

const CRED_GET = 'GET /api/3/people/:personId/credentials/:credentialId';

describe('pipeline steps', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  // JOBS_BATCH_SIZE 1: one job per step, as before batches; 50: the whole roster in one batch job,
  // every step in process (no step job at all), the same DoorFlow calls.
  it.each(['1', '50'])(
    'spec mode (no code in the create response): the hand-over reads each credential once for its code (batch size %s)',
    async (batchSize) => {
      h = await startHarness({ env: { JOBS_BATCH_SIZE: batchSize } });
      await h.startWorkers();
      const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, roster(10));
      const done = await h.waitForRun(run.runId);
      expect(done.counts.provisioned).toBe(10);
      const perStep = batchSize === '1' ? 10 : 0;
      const invitation = await h.pipeline.queues.get('invitation').getJobCounts('completed');
      expect(invitation.completed).toBe(perStep);
      const delivered = await h.pipeline.queues.get('delivery-webhook').getJobCounts('completed');
      expect(delivered.completed).toBe(perStep);
      const batches = await h.pipeline.queues.get('provision').getJobCounts('completed');
      expect(batches.completed).toBe(batchSize === '1' ? 0 : 1);
      expect(h.sim.stats().requests[CRED_GET]).toEqual({ 200: 10 });
      expect(h.receiver.accepted.filter((d) => d.hasCode)).toHaveLength(10);
    },
  );

  it.each(['1', '50'])(
    'a code in the create response (simulator codeInCreate) goes straight to delivery: no invitation job, no extra read (batch size %s)',
    async (batchSize) => {
      h = await startHarness({ sim: { codeInCreate: true }, env: { JOBS_BATCH_SIZE: batchSize } });
      await h.startWorkers();
      const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, roster(10));
      const done = await h.waitForRun(run.runId);
      expect(done.counts.provisioned).toBe(10);
      const invitation = await h.pipeline.queues
        .get('invitation')
        .getJobCounts('completed', 'waiting', 'delayed');
      expect(invitation).toEqual({ completed: 0, waiting: 0, delayed: 0 });
      const delivered = await h.pipeline.queues.get('delivery-webhook').getJobCounts('completed');
      expect(delivered.completed).toBe(batchSize === '1' ? 10 : 0);
      expect(h.sim.stats().requests[CRED_GET]).toBeUndefined();
      expect(h.receiver.accepted.filter((d) => d.hasCode)).toHaveLength(10);
    },
  );

  it('waits for a late invitation code by delaying the job, then delivers', async () => {
    h = await startHarness({ sim: { invitationCodeDelayMs: 1_500 } });
    await h.startWorkers();
    const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, roster(10));
    const done = await h.waitForRun(run.runId);
    expect(done.counts.provisioned).toBe(10);
    expect(done.retries.invitation ?? 0).toBe(0);
    const reads = Object.values(h.sim.stats().requests[CRED_GET] ?? {}).reduce((a, b) => a + b, 0);
    expect(reads).toBeGreaterThanOrEqual(10);
    expect(h.receiver.accepted.every((d) => d.hasCode)).toBe(true);
  });

  it('a code that never shows within INVITATION_WAIT_MAX is dead-lettered as invitation_unavailable with the wait; replay finishes it once DoorFlow has the code', async () => {
    h = await startHarness({
      sim: { includeInvitationCode: false },
      env: { INVITATION_WAIT_MAX: '600ms', JOB_ATTEMPTS: '2', JOB_BACKOFF_MS: '100' },
    });
    await h.startWorkers();
    const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, roster(3));
    const done = await h.waitForRun(run.runId);
    expect(done.counts['dead:invitation']).toBe(3);
    const dead = await h.pipeline.deadLetters.list({ step: 'invitation' });
    // Not retryable: a retry would find the same spent wait.
    expect(dead.map((d) => [d.code, d.attempts])).toEqual(Array(3).fill(['invitation_unavailable', 1]));
    for (const d of dead) {
      const ms = Number(/after waiting (\d+) ms/.exec(d.message)?.[1]);
      expect(ms).toBeGreaterThanOrEqual(600);
      expect(d.message).toContain('INVITATION_WAIT_MAX 600 ms');
    }
    expect(h.receiver.accepted).toHaveLength(0);

    // DoorFlow now has the codes: the replay reads them and delivers each once.
    h.sim.configure({ includeInvitationCode: true });
    const { pipeline } = h;
    const replay = await replayDeadLetters(dead, pipeline);
    expect(replay.replayed.map((r) => r.code)).toEqual(Array(3).fill('invitation_unavailable'));
    const second = await h.waitForRun(run.runId);
    expect(second.counts.provisioned).toBe(3);
    expect(second.dead).toBe(0);
    expect(h.receiver.accepted).toHaveLength(3);
    expect(h.receiver.accepted.every((d) => d.hasCode)).toBe(true);
    expect(h.sim.stats().credentialsTotal).toBe(3);
  });

  it('mode doorflow: no code is read or stored, nothing is sent by us; an entry without email is rejected', async () => {
    h = await startHarness();
    await h.startWorkers();
    const rows = [...roster(5), { system_id: 'NOMAIL', first_name: 'No', last_name: 'Mail', line: 9 }];
    const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'doorflow' }, rows);
    expect(run.rejected).toEqual([
      { key: 'sid:NOMAIL', line: 9, code: 'email_required', message: expect.any(String) },
    ]);
    const done = await h.waitForRun(run.runId);
    expect(done.counts.provisioned).toBe(5);
    expect(done.counts.invalid).toBe(1);
    expect(h.sim.stats().requests[CRED_GET]).toBeUndefined();
    expect(h.receiver.accepted).toHaveLength(0);
    const keys = await h.pipeline.redis.keys(`${h.config.queuePrefix}:delivered:*`);
    expect(keys).toHaveLength(0);
  });

  it('adopts existing people (by system_id, else exact email), PUTs only changed fields, reuses a live credential', async () => {
    h = await startHarness();
    const api = h.pipeline.doorflow();
    const rows = roster(4);
    // 1: same system_id, another last name → one PUT.
    await api.createPerson({
      first_name: 'First1',
      last_name: 'Old',
      system_id: 'E00001',
      email: 'person1@example.test',
    });
    // 2: same email (other case), no system_id → adopted, PUT sets system_id.
    await api.createPerson({ first_name: 'First2', last_name: 'Last2', email: 'PERSON2@example.test' });
    // 3: identical and already holding a live HID credential → no write at all.
    const p3 = await api.createPerson({
      first_name: 'First3',
      last_name: 'Last3',
      system_id: 'E00003',
      email: 'person3@example.test',
    });
    const typeId = await api.resolveHidCredentialTypeId();
    await api.createCredential(p3.id, { credential_type_id: typeId, value: null });
    // A partial email match must not be taken for person 4.
    await api.createPerson({ first_name: 'X', last_name: 'Y', email: 'person4@example.test.au' });
    const writesBefore = h.sim.stats().writeCount;
    await h.startWorkers();
    const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, rows);
    const done = await h.waitForRun(run.runId);
    expect((done.counts.provisioned ?? 0) + (done.counts.already_provisioned ?? 0)).toBe(4);
    const stats = h.sim.stats();
    expect(stats.people).toBe(5);
    expect(stats.duplicates).toEqual({ peopleBySystemId: 0, peopleByEmail: 0, liveHidCredentials: 0 });
    const puts = stats.requests['PUT /api/3/people/:personId'] ?? {};
    expect(Object.values(puts).reduce((a, b) => a + b, 0)).toBe(2);
    // Writes: 2 PUTs, person 4 created, credentials for 1, 2 and 4.
    expect(stats.writeCount - writesBefore).toBe(2 + 1 + 3);
    const people = h.sim.people();
    expect(people.find((p) => p.system_id === 'E00001')?.last_name).toBe('Last1');
    expect(people.find((p) => p.email?.toLowerCase() === 'person2@example.test')?.system_id).toBe('E00002');
    // Person 3's existing invited credential is delivered by us (nothing recorded it before).
    expect(h.receiver.accepted).toHaveLength(4);
  });

  it('mobiles: every source goes through intake, which sends DoorFlow E.164 only and refuses the rest with its line', async () => {
    h = await startHarness();
    await h.startWorkers();
    const row = (n: number, mobile: string) => ({
      system_id: `M${n}`,
      first_name: 'Mo',
      last_name: `Bile${n}`,
      email: `m${n}@example.test`,
      mobile,
      line: n + 1,
    });
    const rows = [
      row(1, '+44 7700 900123'),
      row(2, '020 7946 0958'),
      row(3, 'ext 42'),
      row(4, '+1 (415) 555-0134'),
    ];
    const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, rows);
    expect(run.rejected.map((r) => [r.line, r.code])).toEqual([
      [3, 'invalid_mobile'],
      [4, 'invalid_mobile'],
    ]);
    const done = await h.waitForRun(run.runId);
    expect(done.counts.provisioned).toBe(2);
    const mobiles = h.sim
      .people()
      .map((p) => p.mobile)
      .sort();
    expect(mobiles).toEqual(['+14155550134', '+447700900123']);
    expect(mobiles.every((m) => /^\+[1-9]\d{6,14}$/.test(m ?? ''))).toBe(true);
  });
});
