import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configVariables, type Env, loadConfig } from '../../src/lib/core/config.ts';
import { BIN, type CliResult, collectOutput } from '../helpers/cli.ts';

/**
 * `.env.example` is loaded the way the README says (`set -a && . ./.env && set +a`) by a real
 * `sh`, and what comes out is what the app parses: every variable the config reads is documented
 * there, each value is the default it documents, and `config check` runs on that environment.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SOURCE = 'set -a && . ./.env.example && set +a';
/** Values `.env.example` gives that are examples rather than the built-in default. */
const EXAMPLE_VALUES = ['REDIS_URL'];

function sh(script: string, env: Env = {}): Promise<CliResult> {
  const child = spawn('sh', ['-c', script], {
    cwd: ROOT,
    // Nothing of the test's own environment but PATH: the file alone decides what is set.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collectOutput(child);
}

/** `env` output → variables (no value in .env.example spans lines). */
function parseEnvOutput(text: string): Env {
  const env: Env = {};
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) env[line.slice(0, at)] = line.slice(at + 1);
  }
  return env;
}

function assignedNames(): string[] {
  const text = readFileSync(`${ROOT}/.env.example`, 'utf8');
  return [...text.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] as string);
}

describe('.env.example sourced by sh', () => {
  it('sources without an error and sets every variable the config reads', async () => {
    const result = await sh(`${SOURCE} && env`);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const env = parseEnvOutput(result.stdout);
    const names = assignedNames();
    // It documents every variable the config reads, once, and nothing else.
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual([...configVariables()].sort());
    for (const name of names) expect(env, name).toHaveProperty(name);
    // The case the issue names: a value with spaces comes through whole.
    expect(env.APP_NAME).toBe('HID Mobile Access');
    expect(env.QUEUE_PREFIX).toBe('{dfp}');
  });

  it('gives each variable the default it documents, as the config parser reads it', async () => {
    const result = await sh(`${SOURCE} && env`);
    expect(result.code).toBe(0);
    const sourced = parseEnvOutput(result.stdout);
    const env: Env = {};
    for (const name of assignedNames()) {
      expect(sourced, name).toHaveProperty(name);
      env[name] = sourced[name];
    }
    const parsed = loadConfig(env);
    const defaults: Env = {};
    for (const name of EXAMPLE_VALUES) defaults[name] = sourced[name];
    expect(parsed).toEqual(loadConfig(defaults));
    expect(parsed.delivery.appName).toBe('HID Mobile Access');
    expect(parsed.redisUrl).toBe('redis://127.0.0.1:6379');
  });

  it('`config check` runs on exactly that environment', async () => {
    // As a deployment script would: any line of the file that fails stops it (set -e).
    const result = await sh(`set -e; ${SOURCE} && exec "$NODE" "$BIN" config check --no-connect --json`, {
      NODE: process.execPath,
      BIN,
      DFP_USE_SOURCE: '1',
    });
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout) as {
      ok: boolean;
      config: { queuePrefix: string; delivery: { appName: string; defaultChannel: string } };
    };
    expect(out.ok).toBe(true);
    expect(out.config.queuePrefix).toBe('{dfp}');
    expect(out.config.delivery.appName).toBe('HID Mobile Access');
    expect(out.config.delivery.defaultChannel).toBe('doorflow');
  });
});
