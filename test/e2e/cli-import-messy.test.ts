import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { testRedisUrl, uniquePrefix } from '../helpers/redis.ts';

/** Acceptance 1 through the real CLI: messy files, --map, --errors, --strict, --dry-run, --json. */
const fixture = (name: string) => new URL(`../fixtures/csv/${name}`, import.meta.url).pathname;

describe('cli: import of messy CSV files', () => {
  let dir: string;
  const prefix = uniquePrefix('imp');
  const env = {
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    DELIVERY_DEFAULT: 'doorflow',
    DOORFLOW_BASE_URL: 'http://127.0.0.1:9',
    DOORFLOW_ACCESS_TOKEN: 'unused',
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dfp-import-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--dry-run --json reports rows, problems with line numbers and ignored columns, touching nothing', async () => {
    const res = await runCli(
      ['import', fixture('invalid-rows.csv'), '--dry-run', '--json', '--default-country', 'GB'],
      env,
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(1);
    const summary = JSON.parse(res.stdout);
    expect(summary.dryRun).toBe(true);
    expect(summary.run).toBeUndefined();
    expect(summary.rows).toMatchObject({ read: 10, valid: 2, invalid: 8, duplicates: 0 });
    expect(summary.problems.samples[0]).toEqual({ line: 3, reason: 'first name is required' });
    const redis = new Redis(testRedisUrl());
    try {
      expect(await redis.keys(`${prefix}*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('--dry-run of a clean file with aliases, BOM and CRLF exits 0 with a human summary', async () => {
    const res = await runCli(['import', fixture('bom-crlf.csv'), '--dry-run'], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/2 rows read \(delimiter ,\), 2 valid, 0 invalid, 0 duplicate keys/);
    expect(res.stdout).toMatch(/dry run: 2 entries would be queued; nothing was written/);
    const tab = await runCli(['import', fixture('tab.tsv'), '--dry-run', '--delivery', 'webhook'], {
      ...env,
      ENCRYPTION_KEY: 'ab'.repeat(32),
      DELIVERY_WEBHOOK_URL: 'http://127.0.0.1:9/hook',
      DELIVERY_WEBHOOK_SECRET: 'x'.repeat(32),
    });
    expect(tab.stdout).toMatch(/2 rows read \(delimiter tab\), 2 valid/);
  });

  it('--map maps a custom column; an unmappable required column fails fast listing the headers', async () => {
    const ok = await runCli(
      ['import', fixture('map.csv'), '--dry-run', '--map', 'Badge Ref=system_id', '--map', 'Contact=email'],
      env,
    );
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/2 valid/);
    const bad = await runCli(['import', fixture('no-names.csv'), '--dry-run'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /cannot map required columns first_name, last_name.*headers seen: "id", "name", "mail"/,
    );
  });

  it('--errors writes line, reason and the original fields; duplicates and extra columns are reported', async () => {
    const errorsFile = join(dir, 'errors.csv');
    const res = await runCli(['import', fixture('duplicates.csv'), '--dry-run', '--errors', errorsFile], env);
    expect(res.stdout).toMatch(/2 duplicate keys/);
    expect(await readFile(errorsFile, 'utf8')).toBe(
      'line,reason,system_id,first_name,last_name,email\n' +
        '3,duplicate key sid:D1 (first on line 2): sent once\n' +
        '5,duplicate key email:same@example.com (first on line 4): sent once\n',
    );
    const extra = await runCli(['import', fixture('extra-columns.csv'), '--dry-run'], env);
    expect(extra.stdout).toMatch(/ignored columns \(no mapping\): Shoe Size, Favourite Colour/);
    expect(extra.stdout).toMatch(/1 row had more fields than the header/);
  });

  it('--strict rejects the whole file when any row is invalid: no run, nothing queued', async () => {
    const res = await runCli(['import', fixture('strict.csv'), '--strict'], env);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/--strict: 1 invalid row; nothing was imported/);
    expect(res.stdout).toMatch(/line 3: first name is required/);
    const redis = new Redis(testRedisUrl());
    try {
      expect(await redis.zcard(`${prefix}:runs`)).toBe(0);
      expect(await redis.keys(`${prefix}:person:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
