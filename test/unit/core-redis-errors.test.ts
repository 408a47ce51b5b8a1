import { describe, expect, it } from 'vitest';
import { isRedisUnavailable, redactRedisUrl } from '../../src/lib/core/redis-errors.ts';

describe('core: Redis outage helpers', () => {
  it('masks the password of a Redis URL and keeps host and port', () => {
    expect(redactRedisUrl('redis://:hunter2@redis.internal:6380')).toBe('redis://:***@redis.internal:6380');
    expect(redactRedisUrl('rediss://app:hunter2@r.example:6379/2')).toBe('rediss://app:***@r.example:6379/2');
    expect(redactRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redactRedisUrl('not a url')).not.toContain('not a url');
  });

  it('tells an outage (refused, closed, retries spent) from other errors', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    expect(isRedisUnavailable(refused)).toBe(true);
    expect(isRedisUnavailable(new Error('Connection is closed.'))).toBe(true);
    expect(
      isRedisUnavailable(
        new Error(
          'Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.',
        ),
      ),
    ).toBe(true);
    expect(
      isRedisUnavailable(new Error('WRONGTYPE Operation against a key holding the wrong kind of value')),
    ).toBe(false);
    expect(isRedisUnavailable('ECONNREFUSED')).toBe(false);
  });
});
