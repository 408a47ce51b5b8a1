import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { testRedisUrl, uniquePrefix } from '../helpers/redis.ts';

/** `import --fallback` through the real CLI (dry run: nothing touches Redis or DoorFlow). */
describe('cli: import --fallback', () => {
  let dir: string;
  let file: string;
  const env = {
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: uniquePrefix('fb'),
    LOG_LEVEL: 'silent',
    DELIVERY_DEFAULT: 'doorflow',
    DOORFLOW_BASE_URL: 'http://127.0.0.1:9',
    DOORFLOW_ACCESS_TOKEN: 'unused',
    // The sms fallback's settings: a dry run checks them as the real import does.
    ENCRYPTION_KEY: 'ab'.repeat(32),
    SMS_ACCOUNT_SID: 'AC0000',
    SMS_AUTH_TOKEN: 'unused-token',
    SMS_FROM: '+15005550006',
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dfp-fallback-cli-'));
    file = join(dir, 'roster.csv');
    await writeFile(
      file,
      [
        'system_id,first_name,last_name,email,mobile',
        'A1,Ana,Lopes,ana@example.test,',
        'A2,Bo,Ek,,+447700900123',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('without a fallback the row lacking an email is refused (exit 1)', async () => {
    const res = await runCli(['import', file, '--dry-run', '--json'], env);
    expect(res.code).toBe(1);
    expect(JSON.parse(res.stdout).rows).toMatchObject({ valid: 1, invalid: 1 });
  });

  it('with --fallback sms both rows go through (exit 0); DELIVERY_FALLBACK does the same', async () => {
    const flag = await runCli(['import', file, '--dry-run', '--json', '--fallback', 'sms'], env);
    expect(flag.code).toBe(0);
    expect(JSON.parse(flag.stdout).rows).toMatchObject({ valid: 2, invalid: 0 });
    const fromEnv = await runCli(['import', file, '--dry-run', '--json'], {
      ...env,
      DELIVERY_FALLBACK: 'sms',
    });
    expect(fromEnv.code).toBe(0);
  });

  it('an unknown channel in --fallback is a usage error (exit 2) naming the choices', async () => {
    const res = await runCli(['import', file, '--dry-run', '--fallback', 'pigeon'], env);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--fallback expects channels from doorflow, webhook, email, sms/);
  });
});
