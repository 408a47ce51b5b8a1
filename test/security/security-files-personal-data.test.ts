import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorsFileWriter } from '../../src/producers/row-errors.ts';
import { runCli } from '../helpers/cli.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';
import { testRedisUrl, uniquePrefix } from '../helpers/redis.ts';

/** Files holding personal data: owner-only, never the input roster, formulas defused. */
describe('issue 14 files: the --errors report', () => {
  let dir: string;
  let roster: string;
  const rosterText = [
    'system_id,first_name,last_name,email',
    'A1,Ana,Lopes,ana@example.test',
    '=HYPERLINK("http://evil.test"),Bo,Ek,not-an-email',
    'A3,@SUM(A1),-2+3,also-bad',
  ].join('\n');
  const env = {
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: uniquePrefix('files'),
    LOG_LEVEL: 'silent',
    DOORFLOW_BASE_URL: 'http://127.0.0.1:9',
    DOORFLOW_ACCESS_TOKEN: 'unused',
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dfp-security-files-'));
    roster = join(dir, 'roster.csv');
    await writeFile(roster, rosterText);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('replaces an existing file mode with 0600 and escapes formula cells (import --dry-run --errors)', async () => {
    const out = join(dir, 'errors.csv');
    await writeFile(out, 'old\n');
    await chmod(out, 0o644);
    const res = await runCli(['import', roster, '--dry-run', '--errors', out], env);
    expect(res.code).toBe(1);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    const text = await readFile(out, 'utf8');
    expect(text).toContain(`"'=HYPERLINK(""http://evil.test"")"`);
    expect(text).toContain("'@SUM(A1)");
    expect(text).toContain("'-2+3");
    for (const line of text.split('\n').slice(1)) expect(line).not.toMatch(/(^|,)[=+\-@]/);
  });

  it('a new errors file is created 0600', async () => {
    const out = join(dir, 'fresh.csv');
    const writer = new ErrorsFileWriter(out, ['a']);
    await writer.write({ kind: 'problem', line: 2, reason: 'bad', values: ['+1'] });
    await writer.close();
    expect((await stat(out)).mode & 0o777).toBe(0o600);
  });

  it('refuses (exit 2) to write the errors report over the roster being imported, by any path', async () => {
    const link = join(dir, 'link.csv');
    await symlink(roster, link);
    for (const target of [roster, join(dir, '.', 'roster.csv'), link]) {
      const res = await runCli(['import', roster, '--dry-run', '--errors', target], env);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain('is the roster being imported');
    }
    expect(await readFile(roster, 'utf8')).toBe(rosterText);
  });
});

/** `runs report --out` and `audit export --out`: the same rules as `--errors`. */
describe('issue 14 files: runs report --out and audit export --out', () => {
  let h: Harness;
  let dir: string;
  let roster: string;
  let rosterText: string;
  beforeAll(async () => {
    h = await startHarness();
    await h.startWorkers();
    dir = await mkdtemp(join(tmpdir(), 'dfp-security-out-'));
    roster = join(dir, 'roster.csv');
    rosterText = [
      'system_id,first_name,last_name,email',
      'F1,=HYPERLINK("http://evil.test"),Ek,f1@example.test',
      'F2,@SUM(A1),Bo,f2@example.test',
      'F3,+Cy,-Dee,f3@example.test',
    ].join('\n');
    await writeFile(roster, rosterText);
    const imported = await runCli(['import', roster, '--wait'], h.env);
    expect(imported.code, imported.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cellsOf = (text: string) =>
    text
      .trim()
      .split('\n')
      .slice(1)
      .flatMap((line) => line.split(','));

  it.each([
    ['runs report', ['runs', 'report', 'latest', '--out']],
    ['audit export', ['audit', 'export', '--format', 'csv', '--out']],
  ])(
    '%s --out: an existing file becomes 0600, a new one is made 0600, formulas are escaped',
    async (_name, args) => {
      const existing = join(dir, `${args[0]}-existing.csv`);
      await writeFile(existing, 'old\n');
      await chmod(existing, 0o644);
      const fresh = join(dir, `${args[0]}-fresh.csv`);
      for (const out of [existing, fresh]) {
        const res = await runCli([...args, out], h.env);
        expect(res.code, res.stderr).toBe(0);
        expect((await stat(out)).mode & 0o777).toBe(0o600);
        const text = await readFile(out, 'utf8');
        expect(text).not.toContain('old');
        for (const cell of cellsOf(text)) expect(cell).not.toMatch(/^"?[=+\-@]/);
      }
      if (args[0] === 'runs') {
        const text = await readFile(fresh, 'utf8');
        expect(text).toContain(`"'=HYPERLINK(""http://evil.test"") Ek"`);
        expect(text).toContain("'@SUM(A1) Bo");
        expect(text).toContain("'+Cy -Dee");
      }
    },
  );

  it.each([
    ['runs report', ['runs', 'report', 'latest', '--out']],
    ['audit export', ['audit', 'export', '--format', 'csv', '--out']],
    ['audit export --run', ['audit', 'export', '--run', 'RUN', '--out']],
  ])('%s refuses (exit 2) to write over the roster the run read, by any path', async (name, args) => {
    const runId = (await h.pipeline.runs.latestId()) ?? '';
    const link = join(dir, `link-${name.replace(/\W+/g, '-')}.csv`);
    await symlink(roster, link);
    for (const target of [roster, join(dir, '.', 'roster.csv'), link]) {
      const res = await runCli([...args.map((a) => (a === 'RUN' ? runId : a)), target], h.env);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(`is the roster run ${runId} read`);
    }
    expect(await readFile(roster, 'utf8')).toBe(rosterText);
  });
});
