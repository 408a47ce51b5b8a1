import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { killAndWait, spawnWorker } from '../helpers/cli.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

/** Issue 13 §2: a process started with a refresh token other than the dead one lifts the pause. */

async function mintGrant(url: string): Promise<string> {
  const res = await fetch(`${url}/__sim/oauth/grant`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  return String(((await res.json()) as Record<string, unknown>).refresh_token);
}

describe('cli: a worker with a new DOORFLOW_REFRESH_TOKEN lifts the auth pause', () => {
  let h: Harness | undefined;
  const children: ChildProcess[] = [];
  afterEach(async () => {
    await Promise.all(children.map((c) => killAndWait(c, 'SIGKILL')));
    children.length = 0;
    await h?.close();
    h = undefined;
  });

  it('paused on an old seed; a worker with a fresh token resumes and provisions the run', async () => {
    h = await startHarness({ sim: { admin: true } });
    const { redis, keys } = h.pipeline;
    // A previous process's seed and dead token, and the pause it set.
    await redis.hset(keys.tokens, { seed: 'old-seed', refresh: 'dead-token', deadRefresh: 'x' });
    await redis.hset(keys.authPause, {
      since: String(Date.now()),
      kind: 'grant',
      upstreamCode: 'invalid_grant',
    });
    const run = await intake(h.pipeline.intakeDeps(), { source: 't', delivery: 'webhook' }, roster(5));
    const env: Record<string, string> = {
      ...(h.env as Record<string, string>),
      DOORFLOW_ACCESS_TOKEN: '',
      DOORFLOW_REFRESH_TOKEN: await mintGrant(h.sim.url),
      DOORFLOW_CLIENT_ID: 'sim-client',
      DOORFLOW_CLIENT_SECRET: 'sim-secret',
    };
    children.push(await spawnWorker(env));
    const done = await h.waitForRun(run.runId, 60_000);
    expect(done.counts.provisioned).toBe(5);
    expect(await redis.exists(keys.authPause)).toBe(0);
    expect(await h.pipeline.deadLetters.count()).toBe(0);
  }, 120_000);
});
