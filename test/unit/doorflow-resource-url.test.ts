import { describe, expect, it } from 'vitest';
import { resolveResourceUrl } from '../../src/lib/doorflow/resource-url.ts';

describe('webhook resource URLs', () => {
  it('turns a DoorFlow resource URL into a path relative to the base, keeping the ack token', () => {
    const target = resolveResourceUrl(
      'https://api.doorflow.com',
      'https://api.doorflow.com/api/3/people/7/credentials/abc?ack_token=t1',
    );
    expect(target.path).toBe('api/3/people/7/credentials/abc');
    expect(target.searchParams.get('ack_token')).toBe('t1');
  });

  it('respects a base path', () => {
    expect(resolveResourceUrl('http://127.0.0.1:9/proxy/', 'http://127.0.0.1:9/proxy/api/3/x').path).toBe(
      'api/3/x',
    );
    expect(() => resolveResourceUrl('http://127.0.0.1:9/proxy', 'http://127.0.0.1:9/api/3/x')).toThrow(
      /outside/,
    );
  });

  it.each([
    'https://evil.example/api/3/people/1?ack_token=t1',
    'http://api.doorflow.com/api/3/people/1',
    'https://api.doorflow.com:8443/api/3/people/1',
    'https://api.doorflow.com.evil.example/api/3/people/1',
    'not a url',
  ])('refuses %s without echoing its query', (url) => {
    let thrown: unknown;
    try {
      resolveResourceUrl('https://api.doorflow.com', url);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: 'foreign_resource_url', retryable: false });
    expect((thrown as Error).message).not.toContain('ack_token');
  });
});
