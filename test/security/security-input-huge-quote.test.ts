import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../helpers/cli.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

/**
 * Issue 14, unbounded input: a 100 MB roster whose third row opens a quote it never closes. The
 * import ends with one error naming the line the record starts on, and the process's peak
 * RSS (VmHWM, read from /proc while it runs) stays under 200 MB. The good row before it is not
 * lost: its run is closed (not left open) and finishes with it provisioned.
 */
describe('cli: import of a 100 MB file with an unterminated quote', () => {
  let h: Harness;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    h = await startHarness();
    dir = await mkdtemp(join(tmpdir(), 'dfp-huge-'));
    file = join(dir, 'huge.csv');
    const out = createWriteStream(file);
    out.write(
      'system_id,first_name,last_name,email\nH1,Ann,Lee,h1@example.test\nH2,"Bob,Lee,h2@example.test\n',
    );
    const block = 'H9,Zed,Lee,zed@example.test\n'.repeat(40_000); // ~1.1 MB
    for (let written = 0; written < 100 * 1024 * 1024; written += block.length) {
      if (!out.write(block)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
    await new Promise<void>((resolve, reject) =>
      out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('ends with one error naming line 3, no stack trace, peak RSS < 200 MB; row 2 goes through', async () => {
    const cli = startCli(['import', file, '--delivery', 'webhook'], h.env);
    const pid = cli.child.pid;
    let peakKb = 0;
    const poll = setInterval(() => {
      readFile(`/proc/${pid}/status`, 'utf8')
        .then((status) => {
          const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
          if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
        })
        .catch(() => {});
    }, 25);
    const code = await cli.exit;
    clearInterval(poll);
    console.log(
      `[issue 14] 100 MB unterminated quote: exit ${code}, peak RSS ${Math.round(peakKb / 1024)} MB`,
    );
    expect(cli.stderr()).toMatch(
      /malformed CSV at line 3: the record is longer than 64 KB \(an unterminated quote\?\)/,
    );
    expect(cli.stderr()).not.toMatch(/\n\s+at /); // one line, no stack trace
    expect(code).toBe(2);
    expect(peakKb).toBeGreaterThan(0);
    expect(peakKb).toBeLessThan(200 * 1024);

    const runId = /run (r\S+): 1 entry queued/.exec(cli.stdout())?.[1];
    expect(runId, cli.stdout()).toBeDefined();
    await h.startWorkers();
    const run = await h.waitForRun(runId as string, 60_000);
    expect(run.intake).toBe('closed');
    expect(run.total).toBe(1);
    expect(run.counts.provisioned).toBe(1);
  }, 180_000);
});
