import type { RedisConnection } from '../../src/lib/core/redis.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditedDoorFlow } from '../../src/processors/hooks/audit.ts';
import { type AuditEntry, AuditLog, formatAudit } from '../../src/lib/store/audit-log.ts';
import { ManualClock, systemClock } from '../../src/lib/core/clock.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { loadConfig } from '../../src/lib/core/config.ts';
import { createDoorFlowClient, type DoorFlowClient } from '../../src/lib/doorflow/client.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { createMetrics } from '../../src/lib/core/metrics.ts';
import { type RunningSimulator, startSimulator } from '../../src/simulator/index.ts';
import { deletePrefix, testRedis, uniquePrefix } from '../helpers/redis.ts';
import { parsePromText, sampleValue } from '../helpers/ops-prom-text.ts';

async function collect(entries: AsyncIterable<AuditEntry>): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const e of entries) out.push(e);
  return out;
}

async function lines(source: AsyncIterable<string>): Promise<string[]> {
  let text = '';
  for await (const chunk of source) text += chunk;
  return text.split('\n').filter(Boolean);
}

describe('audit log (Redis stream)', () => {
  let redis: RedisConnection;
  const prefixes: string[] = [];
  beforeAll(() => {
    redis = testRedis();
  });
  afterAll(async () => {
    for (const p of prefixes) await deletePrefix(redis, p);
    await redis.quit();
  });

  it('appends entries, trims by retention (MINID) and never stores secrets', async () => {
    const prefix = uniquePrefix('audit');
    prefixes.push(prefix);
    const clock = new ManualClock(Date.now());
    const day = 86_400_000;
    const audit = new AuditLog(redis, new RedisKeys(prefix), clock, { retentionMs: day });
    await audit.record({
      actor: 'worker:test:1',
      runId: 'r1',
      key: 'sid:E1',
      action: 'credential.create',
      targetType: 'credential',
      targetId: 'cred1',
      after: {
        status: 'invited',
        invitation_code: 'ABCD-EFGH-JKLM-NPQR',
        note: 'code ABCD-EFGH-JKLM-NPQR',
        token: 't',
      },
    });
    const [first] = await collect(audit.read());
    expect(first).toMatchObject({
      actor: 'worker:test:1',
      runId: 'r1',
      action: 'credential.create',
      targetId: 'cred1',
    });
    expect(first?.after).toEqual({ status: 'invited', note: 'code [REDACTED]' });
    const raw = JSON.stringify(await redis.xrange(`${prefix}:audit`, '-', '+'));
    expect(raw).not.toContain('ABCD-EFGH');
    expect(raw).not.toContain('"token"');

    // Two days later the first entry is past the one-day retention and is trimmed on the next append.
    clock.advance(2 * day);
    await audit.record({
      actor: 'cli:revoke',
      action: 'credential.revoke',
      targetType: 'credential',
      targetId: 'cred1',
      before: { status: 'active' },
      after: { status: 'revoking' },
    });
    expect(await redis.xlen(`${prefix}:audit`)).toBe(1);
    const [second] = await collect(audit.read());
    expect(second?.action).toBe('credential.revoke');
  });

  it('exports JSON lines and CSV, filtered by time', async () => {
    const prefix = uniquePrefix('audit');
    prefixes.push(prefix);
    const audit = new AuditLog(redis, new RedisKeys(prefix), systemClock, { retentionMs: 86_400_000 });
    for (let i = 0; i < 3; i++) {
      await audit.record({
        actor: 'worker:x',
        runId: 'r2',
        action: 'person.update',
        targetType: 'person',
        targetId: String(100 + i),
        before: { department: 'Old, "quoted"' },
        after: { department: '=HYPERLINK("x")' },
      });
    }
    const json = (await lines(formatAudit(audit.read(), 'json'))).map(
      (l) => JSON.parse(l) as Record<string, unknown>,
    );
    expect(json).toHaveLength(3);
    expect(json[0]).toMatchObject({ action: 'person.update', targetId: '100', runId: 'r2' });
    expect(typeof json[0]?.at).toBe('string');

    const csv = await lines(formatAudit(audit.read(), 'csv'));
    expect(csv[0]).toBe('at,actor,run_id,key,action,target_type,target_id,before,after,operator');
    expect(csv).toHaveLength(4);
    expect(csv[1]).toContain('"{""department"":""Old, \\""quoted\\""""}"');

    const future = await collect(audit.read({ sinceMs: Date.now() + 60_000 }));
    expect(future).toHaveLength(0);
    const byRun = await collect(audit.read({ runId: 'other' }));
    expect(byRun).toHaveLength(0);
  });

  // Issue 16: the records of one process go out pipelined, and a record is in Redis by the time
  // its record() resolves (a step that awaits it never reports done before it is written).
  function batchedLog(options: { batchWindowMs?: number; batchMax?: number }) {
    const prefix = uniquePrefix('audit-batch');
    prefixes.push(prefix);
    const keys = new RedisKeys(prefix);
    const clock = new ManualClock(Date.UTC(2027, 0, 4, 9));
    return { keys, audit: new AuditLog(redis, keys, clock, { retentionMs: 86_400_000, ...options }) };
  }

  const entry = (i: number) => ({
    actor: 'worker:test',
    action: 'person.create',
    targetType: 'person' as const,
    targetId: String(i),
  });

  it('concurrent records share a flush; each is in the stream when its promise resolves', async () => {
    const { keys, audit } = batchedLog({ batchWindowMs: 20 });
    const written = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const id = await audit.record(entry(i));
        // Resolved means written: the entry is readable right now.
        const [row] = await redis.xrange(keys.audit, id, id);
        return { id, found: row?.[0] === id };
      }),
    );
    expect(written.every((w) => w.found)).toBe(true);
    expect(new Set(written.map((w) => w.id)).size).toBe(40);
    expect(await redis.xlen(keys.audit)).toBe(40);
  });

  it('a full buffer goes at once, without waiting out the window', async () => {
    const { keys, audit } = batchedLog({ batchWindowMs: 60_000, batchMax: 5 });
    const started = Date.now();
    await Promise.all(Array.from({ length: 5 }, (_, i) => audit.record(entry(i))));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await redis.xlen(keys.audit)).toBe(5);
  });

  it('flush() writes what is buffered (close), and records keep their order', async () => {
    const { keys, audit } = batchedLog({ batchWindowMs: 60_000 });
    const pending = [audit.record(entry(1)), audit.record(entry(2)), audit.record(entry(3))];
    expect(await redis.xlen(keys.audit)).toBe(0);
    await audit.flush();
    await Promise.all(pending);
    const ids = (await redis.xrange(keys.audit, '-', '+')).map(
      ([, fields]) => (JSON.parse(fields[1] as string) as { targetId: string }).targetId,
    );
    expect(ids).toEqual(['1', '2', '3']);
  });
});

describe('audited DoorFlow client (real client against the simulator)', () => {
  let sim: RunningSimulator;
  let redis: RedisConnection;
  let client: DoorFlowClient;
  const prefix = uniquePrefix('auditdf');
  beforeAll(async () => {
    sim = await startSimulator({ seed: 3 });
    redis = testRedis();
    const config = loadConfig({
      DOORFLOW_BASE_URL: sim.url,
      DOORFLOW_ACCESS_TOKEN: sim.accessToken,
      DOORFLOW_RATE_LIMIT: '1000',
    });
    client = createDoorFlowClient({
      config: config.doorflow,
      redis,
      keys: new RedisKeys(prefix),
      logger: silentLogger(),
    });
  });
  afterAll(async () => {
    await client.close();
    await deletePrefix(redis, prefix);
    await redis.quit();
    await sim.close();
  });

  it('records every write with actor, run, key and before/after fields; reads record nothing', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const audit = new AuditLog(redis, new RedisKeys(prefix), systemClock, {
      retentionMs: 86_400_000,
      metrics,
    });
    const api = auditedDoorFlow(client, audit, { actor: 'worker:test', runId: 'run-a', key: 'sid:A1' });
    const person = await api.createPerson({
      first_name: 'Ada',
      last_name: 'Lovelace',
      system_id: 'A1',
      email: 'ada@example.test',
    });
    await api.listPeople({ system_id: 'A1' });
    await api.updatePerson(person.id, { department: 'Engines' });
    const typeId = await api.resolveHidCredentialTypeId();
    const created = await api.createCredential(person.id, { credential_type_id: typeId });
    const again = await api.createCredential(person.id, { credential_type_id: typeId });
    expect(again.created).toBe(false);
    await api.listPersonCredentials(person.id);
    await api.deleteCredential(person.id, created.credential.id);

    const entries = await collect(audit.read({ runId: 'run-a' }));
    expect(entries.map((e) => e.action)).toEqual([
      'person.create',
      'person.update',
      'credential.create',
      'credential.adopt',
      'credential.revoke',
    ]);
    for (const e of entries) expect(e).toMatchObject({ actor: 'worker:test', runId: 'run-a', key: 'sid:A1' });
    expect(entries[0]?.after).toMatchObject({ first_name: 'Ada', system_id: 'A1' });
    expect(entries[1]).toMatchObject({ targetId: String(person.id), after: { department: 'Engines' } });
    expect(entries[1]?.before).toHaveProperty('department');
    expect(entries[2]).toMatchObject({ targetId: created.credential.id, after: { status: 'invited' } });
    expect(entries[4]).toMatchObject({ before: { status: 'invited' }, after: { status: 'revoking' } });
    const raw = JSON.stringify(await redis.xrange(`${prefix}:audit`, '-', '+'));
    expect(raw).not.toMatch(/[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/);
    expect(raw).not.toContain('invitation_code');
    const text = parsePromText(await metrics.registry!.metrics());
    expect(sampleValue(text, 'dfp_audit_records_total', { action: 'credential.create' })).toBe(1);
  });
});
