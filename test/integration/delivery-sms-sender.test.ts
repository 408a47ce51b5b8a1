import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSmsSender } from '../../src/lib/delivery/sms.ts';
import { ProvisionerError } from '../../src/lib/core/errors.ts';
import { type FakeSms, startFakeSms } from '../helpers/fake-sms.ts';

describe('sms channel against a Twilio-shaped endpoint', () => {
  let sms: FakeSms;
  beforeEach(async () => {
    sms = await startFakeSms();
  });
  afterEach(async () => {
    await sms.close();
  });
  const sender = (overrides: { authToken?: string } = {}) =>
    createSmsSender({
      baseUrl: sms.url,
      accountSid: sms.accountSid,
      authToken: overrides.authToken ?? sms.authToken,
      from: '+15005550006',
    });

  it('posts To/From/Body form-encoded with Basic auth and normalises the number to E.164', async () => {
    const result = await sender().send(
      '+44 (0)7700-900 123'.replace('(0)', ''),
      'Your code: AB12-CD34-EF56-GH78',
    );
    expect(result.sid).toMatch(/^SM/);
    expect(sms.messages).toEqual([
      {
        to: '+447700900123',
        from: '+15005550006',
        body: 'Your code: AB12-CD34-EF56-GH78',
        sid: result.sid,
        at: expect.any(Number),
      },
    ]);
  });

  it("finds a sent text in the provider's message log (recovery of an unconfirmed send)", async () => {
    const before = Date.now();
    expect(await sender().wasSent('+447700900123', 'Your code: AB12', before)).toBe(false);
    await sender().send('+447700900123', 'Your code: AB12');
    await sender().send('+447700900999', 'Your code: ZZ99');
    expect(await sender().wasSent('+44 7700 900123', 'Your code: AB12', before)).toBe(true);
    // Another text to the same number, or the same text to another number, is not this message.
    expect(await sender().wasSent('+447700900123', 'Your code: ZZ99', before)).toBe(false);
    expect(await sender().wasSent('+447700900999', 'Your code: AB12', before)).toBe(false);
    // Sent well before the attempt started: an older message, not this attempt's.
    expect(await sender().wasSent('+447700900123', 'Your code: AB12', before + 3_600_000)).toBe(false);
    sms.failNext(503);
    const err = await sender()
      .wasSent('+447700900123', 'Your code: AB12', before)
      .catch((e: unknown) => e);
    expect([(err as ProvisionerError).code, (err as ProvisionerError).retryable]).toEqual([
      'sms_unavailable',
      true,
    ]);
  });

  it('refuses a number that is not E.164 without calling the provider', async () => {
    const err = await sender()
      .send('07700 900123', 'x')
      .catch((e: unknown) => e);
    expect((err as ProvisionerError).code).toBe('invalid_mobile');
    expect((err as ProvisionerError).retryable).toBe(false);
    expect(sms.requests).toHaveLength(0);
  });

  it('maps provider answers: 5xx and 429 retryable, 400 permanent, 401 auth failure', async () => {
    sms.failNext(503);
    const e503 = (await sender()
      .send('+447700900123', 'x')
      .catch((e: unknown) => e)) as ProvisionerError;
    expect([e503.code, e503.retryable]).toEqual(['sms_unavailable', true]);
    sms.failNext(429);
    const e429 = (await sender()
      .send('+447700900123', 'x')
      .catch((e: unknown) => e)) as ProvisionerError;
    expect(e429.retryable).toBe(true);
    sms.failNext(400);
    const e400 = (await sender()
      .send('+447700900123', 'x')
      .catch((e: unknown) => e)) as ProvisionerError;
    expect([e400.code, e400.retryable]).toEqual(['sms_rejected', false]);
    const e401 = (await sender({ authToken: 'wrong' })
      .send('+447700900123', 'x')
      .catch((e: unknown) => e)) as ProvisionerError;
    expect([e401.code, e401.retryable]).toEqual(['sms_auth_failed', false]);
    expect(e401.message).not.toContain('wrong');
    expect(sms.messages).toHaveLength(0);
  });

  it('treats a closed endpoint as retryable', async () => {
    const s = sender();
    await sms.close();
    const err = (await s.send('+447700900123', 'x').catch((e: unknown) => e)) as ProvisionerError;
    expect(err).toBeInstanceOf(ProvisionerError);
    expect(err.retryable).toBe(true);
    sms = await startFakeSms();
  });
});
