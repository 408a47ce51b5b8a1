import { afterEach, describe, expect, it } from 'vitest';
import { killAndWait, type ServeChild, spawnServe } from '../helpers/cli.ts';
import { type Harness, startHarness } from '../helpers/pipeline.ts';

/** Issue 13 §2: the auth pause gauge is on `serve`'s /metrics, not only a worker's. */

async function gauge(url: string): Promise<string | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return /^dfp_doorflow_auth_paused(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1];
}

describe('cli: serve /metrics shows the auth pause', () => {
  let h: Harness | undefined;
  let serve: ServeChild | undefined;
  afterEach(async () => {
    if (serve) await killAndWait(serve.child, 'SIGKILL');
    serve = undefined;
    await h?.close();
    h = undefined;
  });

  it('dfp_doorflow_auth_paused is 0, 1 while auth:pause is set, and 0 once lifted', async () => {
    h = await startHarness({ sim: { admin: true } });
    serve = await spawnServe(['--insecure-local'], {
      ...(h.env as Record<string, string>),
      WEBHOOK_SECRET: 'w'.repeat(32),
    });
    expect(await gauge(serve.url)).toBe('0');
    const { redis, keys } = h.pipeline;
    await redis.hset(keys.authPause, {
      since: String(Date.now()),
      kind: 'grant',
      upstreamCode: 'invalid_grant',
    });
    expect(await gauge(serve.url)).toBe('1');
    await redis.del(keys.authPause);
    expect(await gauge(serve.url)).toBe('0');
  }, 90_000);
});
