import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAndWait, runCli, type StartedCli, startCli } from '../helpers/cli.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

/**
 * Issue 15, "a CLI that never surprises", through the CLI as an operator runs it: logs on stderr
 * and only the command's output on stdout (every `--json` parses whole, at LOG_LEVEL=info), an
 * expected business outcome logged in one line without a stack, header rows and plural forms,
 * `dlq show --json` with ISO-8601 times, and the operator in the audit log.
 */
describe('cli: stdout is the output, stderr the logs', () => {
  let h: Harness;
  let worker: StartedCli | undefined;
  let dir: string;
  let env: Record<string, string | undefined>;
  const operator = `${userInfo().username}@${hostname()} (cli)`;
  const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

  beforeAll(async () => {
    // Three licences for four people: one `licence_limit` dead letter, an expected outcome.
    h = await startHarness({ sim: { licenceLimit: 3 } });
    env = { ...h.env, LOG_LEVEL: 'info' };
    dir = await mkdtemp(join(tmpdir(), 'dfp-output-'));
    worker = startCli(['worker'], env);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker not ready:\n${worker?.stderr()}`)), 90_000);
      worker?.onStderr((all) => {
        if (all.includes('worker ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }, 120_000);
  afterAll(async () => {
    if (worker) await killAndWait(worker.child, 'SIGTERM');
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a real import --json --wait at LOG_LEVEL=info: stdout parses as one JSON document, the logs are on stderr', async () => {
    const file = join(dir, 'four.csv');
    await writeFile(
      file,
      [
        'system_id,first_name,last_name,email',
        ...[1, 2, 3, 4].map((n) => `J${n},Jo${n},Ng,j${n}@example.test`),
      ].join('\n'),
    );
    const res = await runCli(['import', file, '--json', '--wait', '--timeout', '90s'], env, 120_000);
    expect(res.code, res.stderr).toBe(1); // one licence short
    const parsed = JSON.parse(res.stdout) as {
      run: { runId: string; accepted: number };
      finished: { run: { total: number }; outcomes: Record<string, number> };
    };
    expect(parsed.run.accepted).toBe(4);
    expect(parsed.finished.outcomes).toEqual({ provisioned: 3, 'failed: licence_limit': 1 });
    // The pino lines went to stderr (before this change they came first on stdout).
    expect(res.stderr).toMatch(/^\{"level":30,.*"msg":"people index rebuilt for the run"\}$/m);
    expect(res.stdout).not.toContain('"level"');

    // The worker logged the dead letter as one line with its reason and no stack trace.
    const deadLines = (worker?.stderr() ?? '').split('\n').filter((l) => l.includes('dead-lettered'));
    expect(deadLines).toHaveLength(1);
    expect(deadLines[0]).toMatch(/"code":"licence_limit"/);
    expect(deadLines[0]).not.toMatch(/"stack"|\\n\s+at /);
    // Per-person progress is at debug: nothing per person at info.
    expect(worker?.stderr()).not.toMatch(/"msg":"(created person|credential ready|invitation delivered)/);

    // Every other --json output parses whole too, with logs at info.
    const runId = parsed.run.runId;
    const shown = await runCli(['runs', 'show', runId, '--json'], env);
    expect(shown.code).toBe(0);
    expect((JSON.parse(shown.stdout) as { run: { total: number } }).run.total).toBe(4);
    const provisioned = (JSON.parse(shown.stdout) as { entries: { key: string; outcome: string }[] }).entries
      .find((e) => e.outcome === 'provisioned')
      ?.key.replace(/^sid:/, '');
    const status = await runCli(['status', '--person', provisioned ?? '?', '--json'], env);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ person: provisioned });
    const check = await runCli(['config', 'check', '--json'], env);
    expect(check.code, check.stdout).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({ ok: true });

    // dlq list --json and dlq show --json parse, with times as ISO-8601.
    const list = await runCli(['dlq', 'list', '--json'], env);
    const letters = JSON.parse(list.stdout) as { id: string; lastFailedAt: string }[];
    expect(letters).toHaveLength(1);
    expect(letters[0]?.lastFailedAt).toMatch(iso);
    const one = await runCli(['dlq', 'show', letters[0]!.id, '--json'], env);
    expect(one.code).toBe(0);
    const letter = JSON.parse(one.stdout) as Record<string, unknown>;
    expect(letter).toMatchObject({ code: 'licence_limit', queue: 'credential', runId });
    expect(letter.firstFailedAt).toMatch(iso);
    expect(letter.lastFailedAt).toMatch(iso);
    // Without --json: one field a line, times ISO-8601 too.
    const human = await runCli(['dlq', 'show', letters[0]!.id], env);
    expect(human.stdout).toMatch(/^ {2}code +licence_limit \(HTTP 422\)$/m);
    expect(human.stdout).toMatch(/^ {2}last failed +\d{4}-\d\d-\d\dT[\d:.]+Z$/m);

    // Header rows.
    const runs = await runCli(['runs', 'list'], env);
    const runLines = runs.stdout.trimEnd().split('\n');
    expect(runLines[0]).toMatch(/^RUN +STATE +CREATED +ENTRIES +OK +FAILED +SOURCE$/);
    expect(runLines[1]).toMatch(new RegExp(`^${runId} +finished +\\S+ +4 +3 +1 +`));
    const dlqLines = (await runCli(['dlq', 'list'], env)).stdout.trimEnd().split('\n');
    expect(dlqLines[0]).toMatch(/^ID +STEP +CODE +HTTP +RUN +ENTRY +ATTEMPTS +LAST FAILED +MESSAGE$/);
    expect(dlqLines[1]).toMatch(/credential +licence_limit +422 /);
    expect(dlqLines).toHaveLength(2);

    // The replay is the operator's: the audit log says who (OS user and host), as does the import.
    const replay = await runCli(['dlq', 'replay', letters[0]!.id], env);
    expect(replay.stdout).toMatch(/replayed 1, skipped 0/);
    const purged = await runCli(['dlq', 'purge', '--all'], env);
    expect(purged.stdout).toMatch(/^purged \d+ dead letters?$/m);
    expect(purged.stdout).not.toContain('(s)');
    const audit = await runCli(['audit', 'export', '--run', runId], env);
    const entries = audit.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; actor: string; operator?: string });
    expect(entries.find((e) => e.action === 'run.start')).toMatchObject({
      actor: 'cli:import',
      operator,
    });
    expect(entries.find((e) => e.action === 'dead_letter.replay')).toMatchObject({
      actor: 'cli:dlq',
      operator,
    });
    const csv = (await runCli(['audit', 'export', '--run', runId, '--format', 'csv'], env)).stdout;
    expect(csv.split('\n')[0]).toMatch(/,operator$/);
    expect(csv).toContain(operator);
  }, 240_000);

  it('plural forms: one entry, one duplicate key', async () => {
    const file = join(dir, 'one.csv');
    await writeFile(
      file,
      'system_id,first_name,last_name,email\nP1,Pat,Oh,p1@example.test\nP1,Pat,Oh,p1@example.test\n',
    );
    // The worker learned the 3 licences, all taken: the import needs --allow-partial to queue.
    const res = await runCli(['import', file, '--allow-partial'], env);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/licence headroom: 0 of 3 HID licences free/);
    expect(res.stdout).toMatch(/2 rows read .*, 1 duplicate key$/m);
    expect(res.stdout).toMatch(/: 1 entry queued, 1 duplicate key skipped, 0 rejected/);
    const dry = await runCli(['import', file, '--dry-run'], env);
    expect(dry.stdout).toMatch(/dry run: 1 entry would be queued/);
  }, 120_000);
});
