import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSimulatorOptions, FLAG_PATHS, registerSimulateCommand } from '../../src/cli/simulate.ts';
import {
  faultOptionsSchema,
  resolveOptions,
  simulatorOptionsSchema,
  webhookOptionsSchema,
} from '../../src/simulator/options.ts';

const dir = mkdtempSync(join(tmpdir(), 'sim-opts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Parses `simulate …` and returns the options it would start with, without starting anything. */
async function optionsFor(args: string[]): Promise<Record<string, unknown>> {
  const program = new Command().exitOverride();
  registerSimulateCommand(program);
  let captured: Record<string, unknown> | undefined;
  program.hook('preAction', (_program, action) => {
    captured = buildSimulatorOptions(action);
    throw new Error('stop before starting');
  });
  await expect(program.parseAsync(['node', 'cli', 'simulate', ...args])).rejects.toThrow(
    'stop before starting',
  );
  return captured ?? {};
}

describe('simulate flags → simulator options', () => {
  it('maps every fault flag into the options schema', async () => {
    const o = resolveOptions(
      await optionsFor([
        '--seed',
        '9',
        '--rate-limit',
        '12',
        '--latency-ms',
        '30',
        '--jitter-ms',
        '20',
        '--hid-failure-rate',
        '0.1',
        '--lost-response-rate',
        '0.05',
        '--lost-person-rate',
        '0.2',
        '--server-error-rate',
        '0.01',
        '--slow-rate',
        '0.02',
        '--slow-ms',
        '900',
        '--licence-limit',
        '50',
        '--webhook-url',
        'http://127.0.0.1:9/h',
        '--webhook-format',
        'seed',
        '--webhook-duplicate-rate',
        '0.5',
        '--no-invitation-code',
        '--access-token',
        'a',
        '--access-token',
        'b',
      ]),
    );
    expect(o.seed).toBe(9);
    expect(o.faults).toEqual({
      rateLimitPerSec: 12,
      latencyMs: 30,
      jitterMs: 20,
      hidOrigoFailureRate: 0.1,
      lostResponse: { person: 0.2, credential: 0.05 },
      serverErrorRate: 0.01,
      slowResponseRate: 0.02,
      slowResponseMs: 900,
    });
    expect(o.licenceLimit).toBe(50);
    expect(o.webhook).toMatchObject({ url: 'http://127.0.0.1:9/h', format: 'seed', duplicateRate: 0.5 });
    expect(o.includeInvitationCode).toBe(false);
    expect(o.accessTokens.map((t) => t.token)).toEqual(['a', 'b']);
    expect(o.admin).toBe(true);
    expect(o.port).toBe(4010);
  });

  it('typed flags override the --config file; CLI defaults only fill gaps', async () => {
    const file = join(dir, 'c.json');
    writeFileSync(
      file,
      JSON.stringify({ port: 5555, admin: false, faults: { latencyMs: 7, serverErrorRate: 0.3 } }),
    );
    const o = resolveOptions(await optionsFor(['--config', file, '--server-error-rate', '0.1']));
    expect(o.port).toBe(5555);
    expect(o.admin).toBe(false);
    expect(o.faults).toMatchObject({ latencyMs: 7, serverErrorRate: 0.1 });
  });

  it('rejects a non-numeric number', async () => {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined });
    registerSimulateCommand(program);
    await expect(program.parseAsync(['node', 'cli', 'simulate', '--rate-limit', 'lots'])).rejects.toThrow(
      /number/,
    );
  });

  it('every option in the schema has a flag (tokens and clients have their own)', () => {
    const mapped = new Set(Object.values(FLAG_PATHS).map((p) => p.join('.')));
    const wanted = [
      ...Object.keys(simulatorOptionsSchema.shape).filter(
        (k) => !['webhook', 'faults', 'accessTokens', 'oauthClients'].includes(k),
      ),
      ...Object.keys(webhookOptionsSchema.shape).map((k) => `webhook.${k}`),
      ...Object.keys(faultOptionsSchema.shape)
        .filter((k) => k !== 'lostResponse')
        .map((k) => `faults.${k}`),
      'faults.lostResponse.person',
      'faults.lostResponse.credential',
    ];
    expect(wanted.filter((k) => !mapped.has(k))).toEqual([]);
  });
});
