import { createHmac } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../../src/simulator/index.ts';
import { killAndWait, runCli, type ServeChild, spawnServe } from '../helpers/cli.ts';
import { testRedisUrl, uniquePrefix } from '../helpers/redis.ts';

const SECRET_EAST = 'east-webhook-secret-1c6e0b9d4f2a48e7a3b5c9d1e7f0a2b4';
const SECRET_WEST = 'west-webhook-secret-9a3f7c1e5b2d46f8a0c4e6b8d2f1a3c5';

/** Several DoorFlow accounts from the user's side: the accounts file, `--account`, serve's receivers. */
describe('cli: DOORFLOW_ACCOUNTS_FILE and --account', () => {
  let dir = '';
  let env: Record<string, string> = {};
  const prefix = uniquePrefix('accts');
  let serve: ServeChild | undefined;
  let sim: RunningSimulator | undefined;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 5 });
    dir = await mkdtemp(join(tmpdir(), 'dfp-cli-accounts-'));
    const file = join(dir, 'accounts.yaml');
    await writeFile(
      file,
      [
        'accounts:',
        '  - name: east',
        `    baseUrl: ${sim.url}`,
        '    accessTokenEnv: EAST_TOKEN',
        '    webhookSecretEnv: EAST_HOOK',
        '    rateLimit: 10',
        '  - name: west',
        '    baseUrl: http://127.0.0.1:9',
        '    accessToken: west-inline-token-value',
        `    webhookSecret: ${SECRET_WEST}`,
        '    rateLimit: 4',
      ].join('\n'),
    );
    await chmod(file, 0o600);
    env = {
      REDIS_URL: testRedisUrl(),
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      DOORFLOW_ACCOUNTS_FILE: file,
      EAST_TOKEN: sim.accessToken,
      EAST_HOOK: SECRET_EAST,
    };
    serve = await spawnServe(['--insecure-local'], env);
  });
  afterAll(async () => {
    if (serve) await killAndWait(serve.child, 'SIGTERM');
    await sim?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('--account is on every command that touches DoorFlow or runs, and names what it expects', async () => {
    for (const command of [
      ['import'],
      ['sync'],
      ['runs', 'list'],
      ['dlq', 'list'],
      ['status'],
      ['revoke'],
      ['reissue'],
      ['audit', 'export'],
      ['config', 'check'],
      ['worker'],
      ['serve'],
    ]) {
      const help = await runCli([...command, '--help'], env);
      expect(help.stdout, command.join(' ')).toMatch(/--account <name>/);
    }
    const unknown = await runCli(['runs', 'list', '--account', 'north'], env);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/--account: one of the accounts of .*accounts\.yaml: east, west/);
    // Two accounts and none is `default`: a command for one account asks which.
    const ambiguous = await runCli(['runs', 'list'], env);
    expect(ambiguous.code).toBe(3);
    expect(ambiguous.stderr).toMatch(
      /lists several accounts and none is named default: choose one \(east, west\)/,
    );
  });

  it('config check checks every account, secrets masked', async () => {
    const res = await runCli(['config', 'check', '--no-connect', '--json'], env);
    const out = JSON.parse(res.stdout) as { checks: { name: string }[]; config: { accounts: unknown[] } };
    expect(out.checks.map((c) => c.name)).toEqual(['delivery[east]', 'delivery[west]']);
    expect(out.config.accounts).toHaveLength(2);
    for (const secret of [env.EAST_TOKEN ?? '', 'west-inline-token-value', SECRET_EAST, SECRET_WEST]) {
      expect(res.stdout).not.toContain(secret);
    }
  });

  it('runs are per account: an import for east is not in west', async () => {
    const csv = join(dir, 'roster.csv');
    await writeFile(csv, 'system_id,first_name,last_name,email\nE1,Ada,Lovelace,ada@example.test\n');
    const imported = await runCli(['import', csv, '--account', 'east', '--json'], env);
    expect(imported.code, imported.stderr).toBe(0);
    const summary = JSON.parse(imported.stdout) as { run: { runId: string } };
    const runId = summary.run.runId;
    const east = JSON.parse((await runCli(['runs', 'list', '--account', 'east', '--json'], env)).stdout) as {
      id: string;
    }[];
    const west = JSON.parse(
      (await runCli(['runs', 'list', '--account', 'west', '--json'], env)).stdout,
    ) as unknown[];
    expect(east.map((r) => r.id)).toEqual([runId]);
    expect(west).toEqual([]);
    // Its keys carry the account's own hash tag.
    const redis = new Redis(testRedisUrl());
    try {
      const tag = `${prefix.slice(0, -1)}:east}`;
      expect((await redis.keys(`${tag}:*`)).length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  });

  it('serve verifies each account’s webhooks with that account’s secret, and queues them for that account', async () => {
    const body = JSON.stringify([
      {
        action: 'UPDATE',
        resource: 'http://127.0.0.1:9/api/3/people/1/credentials/abc?ack_token=t1',
        resource_type: 'PersonCredential',
        resource_id: 'abc',
        ack_token: 't1',
      },
    ]);
    const ts = String(Math.floor(Date.now() / 1000));
    const post = (path: string, secret: string) =>
      fetch(`${serve!.url}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          Signature: createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex'),
          Timestamp: ts,
        },
        body,
      });
    // West's secret does not open east's receiver, and there is no default account here.
    expect((await post('/webhooks/doorflow/east', SECRET_WEST)).status).toBe(401);
    expect((await post('/webhooks/doorflow', SECRET_EAST)).status).toBe(404);
    const ok = await post('/webhooks/doorflow/east', SECRET_EAST);
    expect(ok.status).toBe(200);
    const queued = async (account: string) => {
      const connection = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
      const queue = new Queue('status-events', { connection, prefix: `${prefix.slice(0, -1)}:${account}}` });
      try {
        return await queue.count();
      } finally {
        await queue.close();
        connection.disconnect();
      }
    };
    expect(await queued('east')).toBe(1);
    expect(await queued('west')).toBe(0);
    expect(serve!.output()).toMatch(/webhooks\/doorflow\/east, http:\S+\/webhooks\/doorflow\/west/);
  });
});
