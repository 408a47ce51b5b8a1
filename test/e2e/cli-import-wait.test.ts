import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../helpers/cli.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

/** `import --wait` with no worker alive: a warning within 15 s, and `--timeout` gives up cleanly. */
describe('cli: import --wait without workers', () => {
  let h: Harness;
  let dir: string;

  beforeAll(async () => {
    h = await startHarness();
    dir = await mkdtemp(join(tmpdir(), 'dfp-e2e-wait-'));
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('warns "no live workers" within 15 s and, with --timeout 20s, exits 1 within 25 s with one clear line', async () => {
    const file = join(dir, 'wait.csv');
    await writeFile(file, 'system_id,first_name,last_name,email\nW1,Ann,Lee,w1@example.test\n');
    const started = Date.now();
    const cli = startCli(
      ['import', file, '--delivery', 'webhook', '--no-prefetch', '--wait', '--timeout', '20s'],
      h.env,
    );
    let warnedAfterMs: number | undefined;
    cli.onStderr((all) => {
      if (warnedAfterMs === undefined && all.includes('no live workers'))
        warnedAfterMs = Date.now() - started;
    });
    const killer = setTimeout(() => cli.child.kill('SIGKILL'), 40_000);
    const code = await cli.exit;
    clearTimeout(killer);
    const stdout = cli.stdout();
    const stderr = cli.stderr();
    const elapsedMs = Date.now() - started;

    expect(stdout).toMatch(/1 entries queued|1 entry queued/);
    expect(stderr).toContain('warning: no live workers: start `doorflow-provisioner worker`');
    expect(warnedAfterMs).toBeLessThan(15_000);
    expect(code).toBe(1);
    expect(elapsedMs).toBeLessThan(25_000);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^error: run r[\w-]+ not finished within --timeout \(0\/1 entries settled\)/);
    expect(stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('Ctrl-C while waiting exits 130 and says the run carries on in the workers, and how to follow it', async () => {
    const file = join(dir, 'interrupt.csv');
    await writeFile(file, 'system_id,first_name,last_name,email\nI1,Ann,Lee,i1@example.test\n');
    const cli = startCli(['import', file, '--delivery', 'webhook', '--no-prefetch', '--wait'], h.env);
    const killer = setTimeout(() => cli.child.kill('SIGKILL'), 40_000);
    while (!/entr(y|ies) queued/.test(cli.stdout()) && cli.child.exitCode === null)
      await new Promise((r) => setTimeout(r, 50));
    cli.child.kill('SIGINT');
    const code = await cli.exit;
    clearTimeout(killer);
    expect(code).toBe(130);
    const runId = /run (r[\w-]+)/.exec(cli.stdout())?.[1];
    expect(runId).toBeDefined();
    expect(cli.stderr()).toContain(
      `interrupted: run ${runId} carries on in the workers; follow it with \`doorflow-provisioner runs show ${runId}\``,
    );
    expect((await h.pipeline.runs.get(runId ?? ''))?.total).toBe(1);
  }, 60_000);
});
