import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accountPrefix } from '../../src/lib/core/accounts.ts';
import { forAccount, loadConfig } from '../../src/lib/core/config.ts';
import { describeConfig, secretValues } from '../../src/lib/core/config-describe.ts';
import { ConfigError } from '../../src/lib/core/errors.ts';

const SECRET_A = 'a'.repeat(40);
const SECRET_B = 'b'.repeat(40);

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.variable}: ${p.expected}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('DOORFLOW_ACCOUNTS_FILE', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dfp-accounts-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, text: string, mode = 0o600): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    await chmod(path, mode);
    return path;
  }

  it('without the file, one account named default on the bare prefix: nothing changes', () => {
    const config = loadConfig({ DOORFLOW_ACCESS_TOKEN: 'tok-env', DOORFLOW_RATE_LIMIT: '7' });
    expect(config.account).toBe('default');
    expect(config.accounts.map((a) => a.name)).toEqual(['default']);
    expect(config.queuePrefix).toBe('{dfp}');
    expect(config.doorflow.accessToken).toBe('tok-env');
    expect(config.doorflow.rateLimitPerSec).toBe(7);
  });

  it('reads a YAML object with an accounts list and a JSON list alike', async () => {
    const yaml = await file(
      'accounts.yaml',
      [
        'accounts:',
        '  - name: london',
        '    baseUrl: https://london.example/',
        '    accessTokenEnv: LONDON_TOKEN',
        '    rateLimit: 50',
        '    maxInFlight: 12',
        '    hidCredentialTypeId: 9',
        '    webhookSecretEnv: LONDON_HOOK',
        '    delivery: { default: email, fallback: [sms], mailFrom: passes@london.example }',
        '  - name: paris',
        '    accessTokenEnv: PARIS_TOKEN',
        '    rateLimit: 20',
      ].join('\n'),
      0o644,
    );
    const env = {
      DOORFLOW_ACCOUNTS_FILE: yaml,
      LONDON_TOKEN: 'tok-l',
      LONDON_HOOK: SECRET_A,
      PARIS_TOKEN: 'tok-p',
    };
    const london = loadConfig(env, {}, { account: 'london' });
    expect(london.account).toBe('london');
    expect(london.queuePrefix).toBe('{dfp:london}');
    expect(london.doorflow).toMatchObject({
      baseUrl: 'https://london.example',
      accessToken: 'tok-l',
      rateLimitPerSec: 50,
      maxInFlight: 12,
      hidCredentialTypeId: 9,
    });
    expect(london.webhook.secret).toBe(SECRET_A);
    expect(london.delivery).toMatchObject({
      defaultChannel: 'email',
      fallback: ['sms'],
      mailFrom: 'passes@london.example',
    });
    const paris = forAccount(london, 'paris');
    expect(paris.queuePrefix).toBe('{dfp:paris}');
    expect(paris.doorflow.accessToken).toBe('tok-p');
    expect(paris.doorflow.rateLimitPerSec).toBe(20);
    // A file account never borrows the environment's grant.
    const withEnvToken = loadConfig({ ...env, DOORFLOW_ACCESS_TOKEN: 'env-grant' }, {}, { account: 'paris' });
    expect(withEnvToken.doorflow.accessToken).toBe('tok-p');

    const json = await file('accounts.json', JSON.stringify([{ name: 'solo', accessToken: 'tok-inline' }]));
    const solo = loadConfig({ DOORFLOW_ACCOUNTS_FILE: json });
    expect(solo.account).toBe('solo');
    expect(solo.doorflow.accessToken).toBe('tok-inline');
  });

  it('inline secrets only in a file readable by its owner alone', async () => {
    const open = await file(
      'open.json',
      JSON.stringify([{ name: 'x', refreshToken: 'r', clientId: 'c', clientSecretEnv: 'CS' }]),
      0o640,
    );
    const problems = problemsOf(() => loadConfig({ DOORFLOW_ACCOUNTS_FILE: open, CS: 'secret-cs' }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /DOORFLOW_ACCOUNTS_FILE: .*open\.json: accounts\[0\] \(x\)\.refreshToken: .*chmod 600.*refreshTokenEnv/,
    );
    await chmod(open, 0o600);
    expect(loadConfig({ DOORFLOW_ACCOUNTS_FILE: open, CS: 'secret-cs' }).doorflow.refreshToken).toBe('r');
  });

  it('names every problem: missing variables, bad fields, duplicates, unknown accounts', async () => {
    const bad = await file(
      'bad.yaml',
      [
        '- name: London',
        '- name: ok',
        '  accessTokenEnv: NOT_SET',
        '  rateLimit: -3',
        '  colour: blue',
        '- name: ok',
        '  webhookSecret: short',
      ].join('\n'),
    );
    const problems = problemsOf(() => loadConfig({ DOORFLOW_ACCOUNTS_FILE: bad }));
    const text = problems.join('\n');
    expect(text).toMatch(/accounts\[0\] \(London\)\.name: expected lower-case/);
    expect(text).toMatch(/accounts\[1\] \(ok\)\.rateLimit: expected a positive number/);
    expect(text).toMatch(/accounts\[1\] \(ok\): unknown field\(s\) colour/);
    expect(text).toMatch(/accounts\[2\] \(ok\): the name ok is used twice/);
    expect(text).toMatch(/accounts\[2\] \(ok\)\.webhookSecret: expected at least 32/);
    const missing = await file('missing.yaml', '- name: ok\n  accessTokenEnv: NOT_SET\n');
    expect(problemsOf(() => loadConfig({ DOORFLOW_ACCOUNTS_FILE: missing })).join('\n')).toMatch(
      /accessTokenEnv: the environment variable NOT_SET is not set/,
    );
    expect(
      problemsOf(() => loadConfig({ DOORFLOW_ACCOUNTS_FILE: join(dir, 'nope.yaml') })).join('\n'),
    ).toMatch(/nope\.yaml: \(file\): cannot be read as JSON or YAML: no such file/);
    expect(
      problemsOf(() =>
        loadConfig({ DOORFLOW_ACCOUNTS_FILE: missing, NOT_SET: 't' }, {}, { account: 'paris' }),
      ),
    ).toEqual([expect.stringMatching(/^--account: one of the accounts of .*missing\.yaml: ok$/)]);
  });

  it('several accounts: the one named default when none is chosen, else a clear error (or the first for worker/serve)', async () => {
    const two = await file(
      'two.json',
      JSON.stringify({
        accounts: [
          { name: 'a', accessToken: 't1' },
          { name: 'b', accessToken: 't2' },
        ],
      }),
    );
    expect(problemsOf(() => loadConfig({ DOORFLOW_ACCOUNTS_FILE: two })).join('\n')).toMatch(
      /--account: .*two\.json lists several accounts and none is named default: choose one \(a, b\)/,
    );
    expect(loadConfig({ DOORFLOW_ACCOUNTS_FILE: two }, {}, { all: true }).account).toBe('a');
    const withDefault = await file(
      'd.json',
      JSON.stringify([
        { name: 'a', accessToken: 't1' },
        { name: 'default', accessToken: 't0' },
      ]),
    );
    const config = loadConfig({ DOORFLOW_ACCOUNTS_FILE: withDefault });
    expect(config.account).toBe('default');
    // The default account keeps the bare prefix, so an existing deployment's data stays put.
    expect(config.queuePrefix).toBe('{dfp}');
  });

  it('every account’s secrets are redacted and masked, not only the selected one’s', async () => {
    const path = await file(
      'two.json',
      JSON.stringify([
        { name: 'a', accessToken: 'token-of-account-a', webhookSecret: SECRET_A },
        { name: 'b', accessToken: 'token-of-account-b', webhookSecret: SECRET_B },
      ]),
    );
    const config = loadConfig({ DOORFLOW_ACCOUNTS_FILE: path }, {}, { account: 'a' });
    expect(secretValues(config)).toEqual(
      expect.arrayContaining(['token-of-account-a', 'token-of-account-b', SECRET_A, SECRET_B]),
    );
    const shown = JSON.stringify(describeConfig(config));
    for (const secret of ['token-of-account-a', 'token-of-account-b', SECRET_A, SECRET_B])
      expect(shown).not.toContain(secret);
    expect(shown).toContain('"name":"b"');
  });

  it('hash tags: each account its own tag inside the configured one', () => {
    expect(accountPrefix('{dfp}', 'default')).toBe('{dfp}');
    expect(accountPrefix('{dfp}', 'london')).toBe('{dfp:london}');
    expect(accountPrefix('prod:{dfp}', 'london')).toBe('prod:{dfp:london}');
    expect(accountPrefix('dfp', 'london')).toBe('{dfp:london}');
  });
});
