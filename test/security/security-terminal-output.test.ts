import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnWorker } from '../helpers/cli.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

/**
 * Issue 14, terminal escapes: DoorFlow's error bodies are outside data. A DoorFlow that answers
 * person creates with a 422 whose field names carry escape sequences (clear the screen, set the
 * window title, ring the bell) gets them into dead letters and run entries; `dlq list` and
 * `runs show` print them as visible `\xHH` text, never as raw control characters.
 */
const HOSTILE_FIELD = '\x1b]0;owned\x07email\x1b[2J\x9b1A';

/** Forwards everything to the simulator except person creates, which it refuses with `HOSTILE_FIELD`. */
function hostileDoorFlow(upstream: URL): Server {
  return createServer((req, res) => {
    if (req.method === 'POST' && req.url?.split('?')[0]?.endsWith('/api/3/people')) {
      req.resume();
      res.writeHead(422, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'unprocessable_entity', errors: { [HOSTILE_FIELD]: ['is taken'] } }));
      return;
    }
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
}

describe('security: DoorFlow text on the operator terminal', () => {
  let h: Harness;
  let proxy: Server;
  let worker: ChildProcess | undefined;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    h = await startHarness();
    proxy = hostileDoorFlow(new URL(h.sim.url));
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    env = {
      ...(h.env as Record<string, string>),
      DOORFLOW_BASE_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    };
    dir = await mkdtemp(join(tmpdir(), 'dfp-term-'));
  }, 60_000);
  afterAll(async () => {
    worker?.kill('SIGTERM');
    await h?.close();
    await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it('dlq list and runs show print escape sequences from DoorFlow as visible text', async () => {
    const file = join(dir, 'roster.csv');
    await writeFile(file, 'system_id,first_name,last_name,email\nT1,Ann,Lee,t1@example.test\n');
    const imported = await runCli(['import', file, '--delivery', 'webhook'], env);
    expect(imported.code, imported.stderr).toBe(0);
    const runId = /run (r\S+):/.exec(imported.stdout)?.[1] as string;
    expect(runId).toBeDefined();

    worker = await spawnWorker(env);
    const run = await h.waitForRun(runId, 60_000);
    expect(run.dead).toBe(1);

    for (const args of [
      ['dlq', 'list'],
      ['runs', 'show', runId],
    ]) {
      const shown = await runCli(args, env);
      expect(shown.code, `${args.join(' ')}: ${shown.stderr}`).not.toBeNull();
      const out = shown.stdout + shown.stderr;
      expect(out, args.join(' ')).toContain('\\x1b]0;owned\\x07email');
      // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
      expect(out, args.join(' ')).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    }
  }, 180_000);
});
