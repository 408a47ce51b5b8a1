import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAndWait, spawnWorker } from './cli.ts';
import { type Harness, startHarness } from './pipeline.ts';

/** An end-to-end test's world: a harness, one real `worker` process and a scratch directory. */
export interface CliHarness {
  h: Harness;
  env: Record<string, string>;
  dir: string;
  close(): Promise<void>;
}

export async function startCliHarness(options: Parameters<typeof startHarness>[0]): Promise<CliHarness> {
  const h = await startHarness(options);
  const env = { ...(h.env as Record<string, string>) };
  const dir = await mkdtemp(join(tmpdir(), 'dfp-cli-e2e-'));
  let worker: ChildProcess | undefined;
  try {
    worker = await spawnWorker(env);
  } catch (err) {
    await h.close();
    throw err;
  }
  return {
    h,
    env,
    dir,
    async close() {
      if (worker) await killAndWait(worker, 'SIGTERM');
      await h.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
