import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { type FakeSms, startFakeSms } from '../helpers/fake-sms.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

/** Every key under the prefix, every value of every type, as text (BullMQ's failedReason and stacktrace included). */
async function dumpRedis(h: Harness, prefix: string): Promise<string> {
  const redis = h.pipeline.redis;
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    for (const key of batch) {
      const type = await redis.type(key);
      parts.push(key);
      if (type === 'string') parts.push((await redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1)));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

describe('issue 14 secrets: an outside party echoing the code in its error', () => {
  let h: Harness | undefined;
  let sms: FakeSms | undefined;
  afterEach(async () => {
    await h?.close();
    await sms?.close();
    h = undefined;
    sms = undefined;
  });

  it('an SMS provider quoting the text in its 400 leaves no code or token in dead letters, failed jobs or run entries', async () => {
    sms = await startFakeSms();
    h = await startHarness({
      env: {
        SMS_BASE_URL: sms.url,
        SMS_ACCOUNT_SID: sms.accountSid,
        SMS_AUTH_TOKEN: sms.authToken,
        SMS_FROM: '+15005550006',
      },
    });
    await h.startWorkers();
    sms.echoNext(3);
    const rows = roster(3).map((r, i) => ({ ...r, mobile: `+44 7700 900 ${String(200 + i)}` }));
    const run = await intake(h.pipeline.intakeDeps(), { source: 'test', delivery: 'sms' }, rows);
    await h.waitForRun(run.runId);
    const codes = h.sim.credentials().map((c) => c.invitation_code ?? '');
    expect(codes).toHaveLength(3);
    for (const code of codes) expect(code).toMatch(/^[A-Z0-9]{4}-/);
    // The provider really echoed them (so the scan below means something).
    expect(sms.requests.filter((r) => r.status === 400)).toHaveLength(3);

    const dead = await h.pipeline.deadLetters.list();
    expect(dead).toHaveLength(3);
    for (const d of dead) {
      expect(d.code).toBe('sms_rejected');
      expect(d.message).toContain('could not be sent');
    }
    const failed = await h.pipeline.queues.get('delivery-sms').getFailed();
    const shown = JSON.stringify({
      dead,
      failed: failed.map((j) => ({ reason: j.failedReason, stack: j.stacktrace, data: j.data })),
    });
    const stored = await dumpRedis(h, h.config.queuePrefix);
    for (const text of [shown, stored]) {
      for (const code of codes) expect(text).not.toContain(code);
      expect(text).not.toMatch(/[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/);
      expect(text).not.toContain(sms.authToken);
      expect(text).not.toContain(h.sim.accessToken);
    }
  });
});
