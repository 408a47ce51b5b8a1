import { describe, expect, it } from 'vitest';
import { loadConfig, parseDurationMs } from '../../src/lib/core/config.ts';
import { describeConfig, secretValues } from '../../src/lib/core/config-describe.ts';
import { ConfigError } from '../../src/lib/core/errors.ts';

describe('loadConfig', () => {
  it('applies documented defaults', () => {
    const config = loadConfig({});
    expect(config.doorflow.baseUrl).toBe('https://api.doorflow.com');
    expect(config.doorflow.rateLimitPerSec).toBe(5);
    expect(config.doorflow.maxInFlight).toBe(8);
    expect(config.queuePrefix).toBe('{dfp}');
    expect(config.doorflow.hidCredentialTypeId).toBeUndefined();
    expect(config.lifecycle.reminderAfterMs).toBe(3 * 86_400_000);
    expect(config.lifecycle.invitationTtlMs).toBe(7 * 86_400_000);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.doorflow)).toBe(true);
  });

  it('has a retention for every kind of record, with defaults and settings', () => {
    const day = 86_400_000;
    expect(loadConfig({}).retention).toEqual({
      runMs: 30 * day,
      deadLetterMs: 30 * day,
      auditMs: 400 * day,
      revokedCredentialMs: 30 * day,
      janitorEveryMs: 3_600_000,
      planMs: 30 * day,
    });
    const set = loadConfig({
      RUN_RETENTION: '7d',
      DLQ_RETENTION: '12h',
      AUDIT_RETENTION: '2d',
      REVOKED_RETENTION: '90d',
      JANITOR_EVERY: '10m',
      PLAN_RETENTION: '3d',
    });
    expect(set.retention).toEqual({
      runMs: 7 * day,
      deadLetterMs: 12 * 3_600_000,
      auditMs: 2 * day,
      revokedCredentialMs: 90 * day,
      janitorEveryMs: 600_000,
      planMs: 3 * day,
    });
    expect(set.admin.auditRetentionMs).toBe(2 * day);
    expect(() => loadConfig({ RUN_RETENTION: 'a month', JANITOR_EVERY: 'often' })).toThrow(
      /RUN_RETENTION: expected a duration[\s\S]*JANITOR_EVERY: expected a duration/,
    );
  });

  it('names every bad variable in one error', () => {
    let caught: unknown;
    try {
      loadConfig({
        DOORFLOW_RATE_LIMIT: 'fast',
        REDIS_URL: 'not a url',
        ENCRYPTION_KEY: 'abc',
        LOG_LEVEL: 'loud',
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    const variables = error.problems.map((p) => p.variable).sort();
    expect(variables).toEqual(['DOORFLOW_RATE_LIMIT', 'ENCRYPTION_KEY', 'LOG_LEVEL', 'REDIS_URL']);
    expect(error.message).toContain('DOORFLOW_RATE_LIMIT: expected a positive number of requests per second');
    expect(error.message).toContain('ENCRYPTION_KEY: expected 32 bytes as 64 hex characters or base64');
  });

  it('never echoes a rejected secret value in the error', () => {
    const badKey = 'zz'.repeat(40);
    expect(() => loadConfig({ ENCRYPTION_KEY: badKey })).toThrow(ConfigError);
    try {
      loadConfig({ ENCRYPTION_KEY: badKey });
    } catch (error) {
      expect((error as Error).message).not.toContain(badKey);
    }
  });

  it('requires client credentials with a refresh token', () => {
    expect(() => loadConfig({ DOORFLOW_REFRESH_TOKEN: 'r1' })).toThrow(/DOORFLOW_CLIENT_ID: required/);
  });

  it('accepts a 32-byte key as hex or base64', () => {
    const hex = 'ab'.repeat(32);
    expect(loadConfig({ ENCRYPTION_KEY: hex }).encryptionKey?.length).toBe(32);
    const b64 = Buffer.alloc(32, 7).toString('base64');
    expect(loadConfig({ ENCRYPTION_KEY: b64 }).encryptionKey?.equals(Buffer.alloc(32, 7))).toBe(true);
  });

  it('SCIM: off by default; SCIM_TOKEN needs 32 characters and ENCRYPTION_KEY, and is a secret', () => {
    expect(loadConfig({}).scim).toEqual({ token: undefined, burstWindowMs: 10_000 });
    expect(() => loadConfig({ SCIM_TOKEN: 'short', ENCRYPTION_KEY: 'ab'.repeat(32) })).toThrow(
      /SCIM_TOKEN: expected at least 32 characters/,
    );
    const token = 'scim-token-3c1e6b0f9a2d4e7c8b5a1f0e9d2c3b4a';
    expect(() => loadConfig({ SCIM_TOKEN: token })).toThrow(
      /ENCRYPTION_KEY: required when SCIM_TOKEN is set/,
    );
    const config = loadConfig({
      SCIM_TOKEN: token,
      ENCRYPTION_KEY: 'ab'.repeat(32),
      SCIM_BURST_WINDOW: '2s',
    });
    expect(config.scim).toEqual({ token, burstWindowMs: 2_000 });
    expect(secretValues(config)).toContain(token);
    expect(JSON.stringify(describeConfig(config))).not.toContain(token);
  });

  it('REDIS_CLUSTER_NODES: host:port seeds, a hash-tagged prefix, never with REDIS_URL', () => {
    const cluster = loadConfig({
      REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b.internal:7001,[::1]:7002',
      REDIS_PASSWORD: 'cluster-secret-pw',
      REDIS_TLS: 'true',
    });
    expect(cluster.redisUrl).toBeUndefined();
    expect(cluster.redisCluster).toEqual({
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: 'redis-b.internal', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      password: 'cluster-secret-pw',
      tls: true,
    });
    expect(JSON.stringify(describeConfig(cluster))).not.toContain('cluster-secret-pw');
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).redisCluster).toBeUndefined();
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (err) {
        return (err as ConfigError).problems;
      }
      return [];
    };
    expect(problems({ REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2' })).toEqual([
      {
        variable: 'REDIS_CLUSTER_NODES',
        expected: expect.stringMatching(
          /expected comma-separated host:port entries .*"10\.0\.0\.2" is not one/,
        ),
      },
    ]);
    expect(problems({ REDIS_CLUSTER_NODES: 'a:99999' })[0]?.variable).toBe('REDIS_CLUSTER_NODES');
    expect(problems({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_URL: 'redis://a:6379' })).toEqual([
      { variable: 'REDIS_CLUSTER_NODES', expected: expect.stringContaining('not both') },
    ]);
    for (const prefix of ['dfp', '{}dfp', 'dfp{']) {
      expect(problems({ REDIS_CLUSTER_NODES: 'a:7000', QUEUE_PREFIX: prefix })).toEqual([
        { variable: 'QUEUE_PREFIX', expected: expect.stringContaining('hash-tagged prefix') },
      ]);
    }
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000', QUEUE_PREFIX: 'x{dfp:london}' }).queuePrefix).toBe(
      'x{dfp:london}',
    );
    expect(problems({ REDIS_URL: 'redis://a:6379', REDIS_PASSWORD: 'pw' })).toEqual([
      { variable: 'REDIS_PASSWORD', expected: expect.stringContaining('only with REDIS_CLUSTER_NODES') },
    ]);
  });

  it('lets CLI overrides win over the environment', () => {
    const config = loadConfig({ DOORFLOW_RATE_LIMIT: '5' }, { DOORFLOW_RATE_LIMIT: '50' });
    expect(config.doorflow.rateLimitPerSec).toBe(50);
  });

  it('masks secrets when described', () => {
    const config = loadConfig({
      DOORFLOW_ACCESS_TOKEN: 'access-token-123456',
      ADMIN_TOKEN: 'admin-secret-99-d0aab33af68bf2849511acb253d9d51f',
    });
    const text = JSON.stringify(describeConfig(config));
    expect(text).not.toContain('access-token-123456');
    expect(text).not.toContain('admin-secret-99-d0aab33af68bf2849511acb253d9d51f');
    expect(secretValues(config)).toContain('access-token-123456');
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['500', 500],
    ['500ms', 500],
    ['30s', 30_000],
    ['10m', 600_000],
    ['2h', 7_200_000],
    ['3d', 259_200_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });
  it('rejects garbage', () => {
    expect(parseDurationMs('soon')).toBeUndefined();
  });
});
