import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { runCli } from '../helpers/cli.ts';
import { type LifecycleHarness, startLifecycle } from '../helpers/lifecycle.ts';
import { roster } from '../helpers/pipeline.ts';

const LIVE = new Set(['invited', 'provisioning', 'active']);

/** Acceptance 5: revoke and reissue end to end through the real CLI, each run twice. */
describe('cli: revoke, reissue, status', () => {
  let l: LifecycleHarness;
  let dir: string;
  const credsOf = (systemId: string) => {
    const person = l.h.sim.people().find((p) => p.system_id === systemId);
    return l.h.sim.credentials().filter((c) => c.person_id === person?.id);
  };

  beforeAll(async () => {
    // No DoorFlow webhooks here: confirmations come from polling (revoke --wait and the poller).
    l = await startLifecycle({ env: { STATUS_POLL_AFTER: '1s' }, sim: { revokeDelayMs: 300 } });
    dir = await mkdtemp(join(tmpdir(), 'dfp-revoke-'));
    const run = await intake(l.h.pipeline.intakeDeps(), { source: 'test', delivery: 'email' }, roster(4));
    await l.h.waitForRun(run.runId);
    await l.smtp.waitFor(4);
  });
  afterAll(async () => {
    await l?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('revoke --person --wait reports revoked only once DoorFlow says so; a second run is a no-op', async () => {
    const first = await runCli(['revoke', '--person', 'E00001', '--wait', '--timeout', '60s'], l.h.env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/E00001: 1 revoked now, 0 already/);
    expect(first.stdout).toMatch(/confirmed revoked: 1 credential/);
    const [cred] = credsOf('E00001');
    expect(cred?.status).toBe('revoked');
    const history = await l.h.pipeline.stores.credentials.history(cred?.id ?? '');
    expect(history.map((h) => h.status)).toEqual(['invited', 'revoking', 'revoked']);

    const writesBefore = l.h.sim.stats().writeCount;
    const second = await runCli(['revoke', '--person', 'E00001', '--wait', '--timeout', '60s'], l.h.env);
    expect({ code: second.code, err: second.stderr }).toEqual({ code: 0, err: '' });
    expect(second.stdout).toMatch(/E00001: 0 revoked now, 1 already/);
    expect(l.h.sim.stats().writeCount).toBe(writesBefore);
  });

  it('revoke --file leavers.csv, twice; unknown people make the exit code 1', async () => {
    const file = join(dir, 'leavers.csv');
    await writeFile(file, 'System ID,Name\nE00002,Second\nE00003,Third\n');
    const first = await runCli(['revoke', '--file', file, '--wait', '--timeout', '60s'], l.h.env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/confirmed revoked: 2 credential/);
    expect(credsOf('E00002').every((c) => c.status === 'revoked')).toBe(true);
    expect(credsOf('E00003').every((c) => c.status === 'revoked')).toBe(true);
    const writesBefore = l.h.sim.stats().writeCount;
    const second = await runCli(['revoke', '--file', file, '--wait', '--timeout', '60s'], l.h.env);
    expect(second.code).toBe(0);
    expect(l.h.sim.stats().writeCount).toBe(writesBefore);

    await writeFile(file, 'system_id\nNOPE-1\n');
    const unknown = await runCli(['revoke', '--file', file], l.h.env);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toMatch(/NOPE-1: not found/);
  });

  it('reissue --person --wait: old revoked, one new credential, new code delivered; twice → no second new one', async () => {
    const [old] = credsOf('E00004');
    const mailsBefore = l.smtp.messages.length;
    const first = await runCli(['reissue', '--person', 'E00004', '--wait'], l.h.env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/new credential \S+ issued/);
    await l.smtp.waitFor(mailsBefore + 1);
    const creds = credsOf('E00004');
    expect(creds).toHaveLength(2);
    const fresh = creds.find((c) => c.id !== old?.id);
    expect(LIVE.has(fresh?.status ?? '')).toBe(true);
    expect(['revoking', 'revoked']).toContain(creds.find((c) => c.id === old?.id)?.status);
    const mail = l.smtp.messages.at(-1);
    expect(mail?.text).toContain(fresh?.invitation_code as string);
    expect(mail?.text).not.toContain(old?.invitation_code as string);

    const second = await runCli(['reissue', '--person', 'E00004', '--wait'], l.h.env);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/still waiting to be accepted; nothing done/);
    expect(credsOf('E00004')).toHaveLength(2);
    expect(l.smtp.messages).toHaveLength(mailsBefore + 1);

    const status = await runCli(['status', '--person', 'E00004', '--json'], l.h.env);
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout) as {
      credentials: { id: string; status: string; replaces: string | null }[];
    };
    expect(parsed.credentials.find((c) => c.id === fresh?.id)).toMatchObject({
      status: 'invited',
      replaces: old?.id,
    });
    expect(status.stdout).not.toMatch(/[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/);
  });

  it('status: human output with history, and exit 1 for an unknown credential', async () => {
    const text = await runCli(['status', '--person', 'E00001'], l.h.env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/credential \S+: revoked since/);
    expect(text.stdout).toMatch(/invited\s+→ revoking/);
    const missing = await runCli(['status', '--credential', 'nope'], l.h.env);
    expect(missing.code).toBe(1);
    const usage = await runCli(['status'], l.h.env);
    expect(usage.code).toBe(2);
  });
});
