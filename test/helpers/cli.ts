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

export async function runCli(args: string[], env: Env, timeoutMs = 90_000): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
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
    const onData = (c: Buffer) => {
      out += c.toString();
      if (out.includes('worker ready')) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        // Keep draining so a full pipe never blocks the child.
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
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
