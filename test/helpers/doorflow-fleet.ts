import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildArgs, ChildMessage } from './doorflow-child.ts';

/** Parent side of `doorflow-child.ts`: spawn real Node processes, start them together, collect results. */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./doorflow-child.ts', import.meta.url));

export type ChildDone = Extract<ChildMessage, { type: 'done' }>;

export interface FleetChild {
  readonly process: ChildProcess;
  readonly ready: Promise<void>;
  readonly done: Promise<ChildDone>;
  go(durationMs?: number): void;
  kill(): void;
}

/**
 * `nice`: run the child at a lower CPU priority (POSIX `nice -n`), so that on a crowded machine the
 * fake server measuring arrival times is not starved by the very processes it measures.
 */
function spawnChild(args: ChildArgs, options: { nice?: number } = {}): FleetChild {
  const node = [process.execPath, '--import', 'tsx', SCRIPT, JSON.stringify(args)];
  const [command, ...argv] = options.nice ? ['nice', '-n', String(options.nice), ...node] : node;
  const child = spawn(command as string, argv, {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let stderrExit: (err: Error) => void = () => {};
  const exited = new Promise<never>((_, reject) => {
    stderrExit = reject;
  });
  exited.catch(() => {});
  child.once('exit', (code, signal) =>
    stderrExit(new Error(`child exited early (code ${code}, signal ${signal})`)),
  );
  const ready = Promise.race([
    new Promise<void>((resolve) => {
      child.on('message', (m: ChildMessage) => {
        if (m.type === 'ready') resolve();
      });
    }),
    exited,
  ]);
  const done = Promise.race([
    new Promise<ChildDone>((resolve) => {
      child.on('message', (m: ChildMessage) => {
        if (m.type === 'done') resolve(m);
      });
    }),
    exited,
  ]);
  return {
    process: child,
    ready,
    done,
    go: (durationMs = 0) => child.send({ durationMs }),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Spawns `count` children, waits until all are ready, starts them together. */
export async function startFleet(
  count: number,
  argsFor: (i: number) => ChildArgs,
  durationMs = 0,
  options: { nice?: number } = {},
): Promise<FleetChild[]> {
  const children = Array.from({ length: count }, (_, i) => spawnChild(argsFor(i), options));
  try {
    await Promise.all(children.map((c) => c.ready));
  } catch (err) {
    for (const c of children) c.kill();
    throw err;
  }
  for (const c of children) c.go(durationMs);
  return children;
}
