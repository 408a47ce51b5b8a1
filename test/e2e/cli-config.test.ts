import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

/**
 * Issue 15, "a CLI that never surprises": configuration problems are found before anything runs,
 * all at once, and exit 3 everywhere; a dry run refuses what the real import would refuse; an
 * unreachable Redis is named by its URL (password masked); identifier-like headers map to
 * system_id, and one that might be the identifier gets a warning with the exact --map to use.
 * Through the CLI as an operator runs it, against the simulator and a real redis-server.
 */
describe('cli: configuration problems and header mapping', () => {
  let h: Harness;
  let dir: string;
  const roster = async (name: string, header: string) => {
    const file = join(dir, name);
    await writeFile(file, `${header}\nE1,Ada,Lovelace,ada@example.test\nE2,Alan,Turing,alan@example.test\n`);
    return file;
  };

  beforeAll(async () => {
    h = await startHarness();
    dir = await mkdtemp(join(tmpdir(), 'dfp-config-'));
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('config check with three problems reports all three and exits 3', async () => {
    const env = {
      ...h.env,
      DELIVERY_DEFAULT: 'email',
      SMTP_URL: 'smtp://127.0.0.1:2525',
      // MAIL_FROM missing (problem 1)
      DELIVERY_FALLBACK: 'sms',
      SMS_ACCOUNT_SID: 'AC00000000000000000000000000000000',
      SMS_AUTH_TOKEN: 'sms-auth-token-for-the-test',
      // SMS_FROM missing (problem 2)
      DOORFLOW_ACCESS_TOKEN: 'a-token-doorflow-does-not-know', // problem 3: refused end to end
    };
    const res = await runCli(['config', 'check'], env);
    expect(res.code, res.stdout + res.stderr).toBe(3);
    const failed = res.stdout.split('\n').filter((l) => l.startsWith('✖'));
    expect(failed).toHaveLength(3);
    expect(res.stdout).toMatch(
      /✖ delivery: MAIL_FROM: required for the email channel \(DELIVERY_DEFAULT=email\)/,
    );
    expect(res.stdout).toMatch(/✖ delivery: SMS_FROM: required for the sms channel \(DELIVERY_FALLBACK\)/);
    expect(res.stdout).toMatch(/✖ doorflow: .*unauthorized/);
    expect(res.stdout).toMatch(/✔ redis: /);
    expect(res.stdout).toMatch(/^3 problems found$/m);
    expect(res.stdout + res.stderr).not.toContain('a-token-doorflow-does-not-know');
    expect(res.stdout + res.stderr).not.toContain('sms-auth-token-for-the-test');
    const json = await runCli(['config', 'check', '--json'], env);
    expect(json.code).toBe(3);
    const parsed = JSON.parse(json.stdout) as { ok: boolean; checks: { ok: boolean; problem?: string }[] };
    expect(parsed.ok).toBe(false);
    expect(parsed.checks.filter((c) => !c.ok).map((c) => c.problem)).toEqual(['config', 'config', 'config']);
    // And with everything right, the DoorFlow token was proven by a real authenticated call.
    const good = await runCli(['config', 'check'], h.env);
    expect(good.code, good.stdout).toBe(0);
    expect(good.stdout).toMatch(/✔ doorflow: .*credential types; HID Mobile type id/);
    expect(good.stdout).toMatch(/✔ delivery: settings present for webhook/);
  }, 120_000);

  it('a missing BAMBOOHR_API_KEY is a configuration problem: exit 3, nothing scheduled', async () => {
    const env = { ...h.env, BAMBOOHR_API_KEY: undefined };
    const dry = await runCli(['sync', '--source', 'bamboohr', '--company', 'acme', '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(3);
    expect(dry.stderr).toMatch(/BAMBOOHR_API_KEY: required for --source bamboohr/);
    const scheduled = await runCli(
      ['sync', '--source', 'bamboohr', '--company', 'acme', '--schedule', '0 2 * * *'],
      env,
    );
    expect(scheduled.code).toBe(3);
    expect(await h.pipeline.queues.get('sync').getJobSchedulers()).toEqual([]);
  }, 60_000);

  it('import --dry-run refuses a channel whose settings are missing, as the real import does (exit 3)', async () => {
    const file = await roster('dry.csv', 'system_id,first_name,last_name,email');
    // The webhook channel (DELIVERY_DEFAULT) without its signing secret.
    const noSecret = { ...h.env, DELIVERY_WEBHOOK_SECRET: undefined };
    const dry = await runCli(['import', file, '--dry-run'], noSecret);
    expect(dry.code, dry.stdout + dry.stderr).toBe(3);
    expect(dry.stderr).toMatch(
      /DELIVERY_WEBHOOK_SECRET: required for the webhook channel \(DELIVERY_DEFAULT\)/,
    );
    expect(dry.stdout).not.toMatch(/would be queued/);
    const real = await runCli(['import', file], noSecret);
    expect(real.code).toBe(3);
    expect(real.stderr).toMatch(/DELIVERY_WEBHOOK_SECRET/);
    // SMS without SMS_FROM.
    const sms = { ...h.env, SMS_ACCOUNT_SID: 'AC1', SMS_AUTH_TOKEN: 'sms-token-dry-run' };
    const smsDry = await runCli(['import', file, '--dry-run', '--delivery', 'sms'], sms);
    expect(smsDry.code).toBe(3);
    expect(smsDry.stderr).toMatch(/SMS_FROM: required for the sms channel \(--delivery sms\)/);
    // The fallback's settings count too.
    const fallback = await runCli(['import', file, '--dry-run'], { ...h.env, DELIVERY_FALLBACK: 'email' });
    expect(fallback.code).toBe(3);
    expect(fallback.stderr).toMatch(/SMTP_URL: required for the email channel \(DELIVERY_FALLBACK\)/);
    expect(fallback.stderr).toMatch(/MAIL_FROM: required for the email channel \(DELIVERY_FALLBACK\)/);
  }, 60_000);

  it('Redis unreachable: named by its URL with the password masked, not by ioredis’ retry text', async () => {
    const env = { ...h.env, REDIS_URL: 'redis://:redis-pass-never-shown@127.0.0.1:1' };
    const check = await runCli(['config', 'check'], env);
    expect(check.code).toBe(4);
    expect(check.stdout).toMatch(/✖ redis: Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1 is unreachable/);
    const list = await runCli(['runs', 'list'], env);
    expect(list.code).toBe(4);
    expect(list.stderr).toMatch(/^error: Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1 is unreachable/m);
    for (const out of [check.stdout + check.stderr, list.stdout + list.stderr]) {
      expect(out).not.toMatch(/max retries per request/i);
      expect(out).not.toContain('redis-pass-never-shown');
    }
  }, 60_000);

  it('identifier-like headers map to system_id; an unmapped one that may be it warns with the exact --map', async () => {
    for (const header of ['Employee #', 'Emp No', 'Employee Number', 'Badge ID', 'Person ID', 'Staff ID']) {
      const file = await roster('ids.csv', `${header},First Name,Last Name,Email`);
      const res = await runCli(['import', file, '--dry-run', '--json'], h.env);
      expect(res.code, `${header}: ${res.stderr}`).toBe(0);
      const summary = JSON.parse(res.stdout) as {
        ignoredColumns: string[];
        possibleSystemIdColumns: string[];
      };
      expect(summary.ignoredColumns, header).toEqual([]);
      expect(res.stderr, header).toBe('');
    }
    // A real import keys people by that column.
    const badge = await roster('badge.csv', 'Badge ID,First Name,Last Name,Email');
    const imported = await runCli(['import', badge, '--json'], h.env);
    expect(imported.code, imported.stderr).toBe(0);
    const runId = (JSON.parse(imported.stdout) as { run: { runId: string } }).run.runId;
    const view = JSON.parse((await runCli(['runs', 'show', runId, '--json'], h.env)).stdout) as {
      entries: { key: string }[];
    };
    expect(view.entries.map((e) => e.key).sort()).toEqual(['sid:E1', 'sid:E2']);

    // A column no alias knows, that looks like an identifier, while people would be keyed by email.
    const payroll = await roster('payroll.csv', 'Payroll Ref,First Name,Last Name,Email');
    const warned = await runCli(['import', payroll, '--dry-run'], h.env);
    expect(warned.code).toBe(0);
    const flag = /import with --map "([^"]+)"/.exec(warned.stderr)?.[1];
    expect(warned.stderr).toMatch(
      /^warning: no column maps to system_id, so people are keyed by email; if "Payroll Ref" holds/m,
    );
    expect(flag).toBe('Payroll Ref=system_id');
    const mapped = await runCli(['import', payroll, '--dry-run', '--json', '--map', flag ?? ''], h.env);
    expect(mapped.stderr).toBe('');
    expect((JSON.parse(mapped.stdout) as { ignoredColumns: string[] }).ignoredColumns).toEqual([]);
  }, 180_000);
});
