import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Env } from '../../src/lib/core/config.ts';

/** Runs the real CLI (bin/doorflow-provisioner.js) as a child process, as a user would. */

export const BIN = fileURLToPath(new URL('../../bin/doorflow-provisioner.js', import.meta.url));

function childEnv(env: Env): NodeJS.ProcessEnv {
  // Only what the test gives, plus PATH/HOME so node and redis-server are found.
  return { PATH: process.env.PATH, HOME: process.env.HOME, DFP_USE_SOURCE: '1', ...env } as NodeJS.ProcessEnv;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A CLI child whose output is collected; `exit` resolves with its exit code. */
export interface StartedCli {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Called with each stderr chunk as it arrives (e.g. to time a warning). */
  onStderr(listener: (all: string) => void): void;
  readonly exit: Promise<number | null>;
}

export function startCli(args: string[], env: Env): StartedCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners: ((all: string) => void)[] = [];
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
    for (const l of listeners) l(stderr);
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    onStderr: (l) => listeners.push(l),
    exit,
  };
}

export async function runCli(args: string[], env: Env, timeoutMs = 90_000): Promise<CliResult> {
  const started = startCli(args, env);
  const timer = setTimeout(() => started.child.kill('SIGKILL'), timeoutMs);
  const code = await started.exit;
  clearTimeout(timer);
  return { code, stdout: started.stdout(), stderr: started.stderr() };
}

/** A long-running `worker` child; resolves once it logged "worker ready". */
export async function spawnWorker(env: Env, timeoutMs = 90_000, args: string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'worker', ...args], {
    env: childEnv({ ...env, LOG_LEVEL: 'info' }), // readiness is read from the log
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker not ready in ${timeoutMs} ms:\n${out.slice(-2000)}`)),
      timeoutMs,
    );
    // Logs go to stderr; both streams are read (and keep being drained, so a full pipe never
    // blocks the child).
    let ready = false;
    const onData = (c: Buffer) => {
      if (ready) return;
      out += c.toString();
      if (out.includes('worker ready')) {
        ready = true;
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code}) before ready:\n${out.slice(-2000)}`));
    });
  });
  child.removeAllListeners('exit');
  return child;
}

export async function killAndWait(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}

export interface ServeChild {
  child: ChildProcess;
  /** `http://host:port` from the "serving on" line. */
  url: string;
  /** Everything the child wrote so far (stdout and stderr). */
  output(): string;
}

/** A long-running `serve --port 0 ...args` child; resolves once it printed "serving on URL". */
export async function spawnServe(args: string[], env: Env, timeoutMs = 60_000): Promise<ServeChild> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), timeoutMs);
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = /serving on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`serve exited ${code}:\n${out}`)));
  });
  child.removeAllListeners('exit');
  return { child, url, output: () => out };
}

/** Any child process's output, collected until it closes (e.g. `sh -c …` running the CLI). */
export function collectOutput(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
