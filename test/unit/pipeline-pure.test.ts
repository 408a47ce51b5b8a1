import { describe, expect, it } from 'vitest';
import { decryptSecret, encryptSecret, generateKey } from '../../src/lib/core/crypto.ts';
import { deadLetterId, stripSecrets } from '../../src/lib/store/dead-letters.ts';
import { replayQueueFor } from '../../src/processors/services/replay.ts';
import { backoffStrategy, defaultJobOptions, encodeKey, stepJobId } from '../../src/lib/jobs/registry.ts';
import { entryOutcome, newRunId } from '../../src/lib/store/runs.ts';
import { pickLiveCredential } from '../../src/processors/credential.ts';
import { signWebhook } from '../../src/lib/delivery/webhook.ts';
import { webhookBody } from '../../src/processors/deliver.ts';
import { pollDelayMs } from '../../src/processors/hand-over.ts';
import { chooseExisting, exactEmailMatches, fieldsToUpdate } from '../../src/processors/person-match.ts';
import { channelProblem, validateEntry } from '../../src/producers/validate-row.ts';
import { verifySignature } from '../../src/cli/demo-receiver.ts';

const entry = {
  key: 'sid:E1',
  system_id: 'E1',
  first_name: 'Ada',
  last_name: 'Lovelace',
  email: 'Ada@Example.com',
};

describe('crypto', () => {
  it('round-trips, uses a fresh IV each time and refuses tampering or a wrong key', () => {
    const key = generateKey();
    const a = encryptSecret(key, 'ABCD-EFGH-IJKL-MNOP');
    const b = encryptSecret(key, 'ABCD-EFGH-IJKL-MNOP');
    expect(a).not.toBe(b);
    expect(a).not.toContain('ABCD');
    expect(decryptSecret(key, a)).toBe('ABCD-EFGH-IJKL-MNOP');
    const parts = a.split('.');
    const tampered = [...parts.slice(0, 3), `${parts[3]?.slice(0, -2)}AA`].join('.');
    expect(() => decryptSecret(key, tampered)).toThrow(/could not be decrypted/);
    expect(() => decryptSecret(generateKey(), a)).toThrow(/could not be decrypted/);
    expect(() => decryptSecret(key, 'nonsense')).toThrow(/unknown format/);
  });
});

describe('queue registry', () => {
  it('job ids never contain ":" and are injective over keys', () => {
    expect(stepJobId('r1', 'sid:a:b')).toBe('r1--sid%3Aa%3Ab');
    expect(stepJobId('r1', 'sid:a', 2)).toBe('r1--sid%3Aa--r2');
    expect(encodeKey('sid:%3A')).not.toBe(encodeKey('sid::'));
    expect(stepJobId('r1', 'email:x@y.z')).not.toContain(':');
  });
  it('default job options are explicit: attempts, custom backoff, capped retention', () => {
    const opts = defaultJobOptions({
      attempts: 12,
      backoffMs: 2000,
      backoffMaxMs: 1_800_000,
      concurrency: 1,
      batchSize: 50,
      lockDurationMs: 30_000,
      maxStalledCount: 10,
    });
    expect(opts.attempts).toBe(12);
    expect(opts.backoff).toEqual({ type: 'provisioner' });
    expect(opts.removeOnComplete).toEqual({ count: 1000, age: 86_400 });
    expect(opts.removeOnFail).toMatchObject({ count: 5000 });
  });
  it('backoff honours a server Retry-After and caps at the max', () => {
    const strategy = backoffStrategy({
      attempts: 12,
      backoffMs: 1000,
      backoffMaxMs: 10_000,
      concurrency: 1,
      batchSize: 50,
      lockDurationMs: 1,
      maxStalledCount: 1,
    });
    const err = Object.assign(new Error('x'), { retryAfterMs: 7_000 });
    expect(strategy(1, 'provisioner', err)).toBe(7_000);
    expect(strategy(20, 'provisioner', new Error('y'))).toBeLessThanOrEqual(10_000);
    expect(strategy(1, 'provisioner', new Error('y'))).toBeGreaterThanOrEqual(500);
  });
});

describe('person matching', () => {
  it('updates only differing mapped fields; email case-insensitively; groups as a set', () => {
    const current = {
      id: 1,
      first_name: 'Ada',
      last_name: 'Lovelace',
      email: 'ada@example.com',
      system_id: 'E1',
      group_ids: [2, 1],
    };
    expect(fieldsToUpdate(entry, current)).toBeUndefined();
    expect(fieldsToUpdate({ ...entry, group_ids: [1, 2] }, current)).toBeUndefined();
    expect(fieldsToUpdate({ ...entry, last_name: 'King', group_ids: [1] }, current)).toEqual({
      last_name: 'King',
      group_ids: [1],
    });
    expect(fieldsToUpdate(entry, { ...current, system_id: null })).toEqual({ system_id: 'E1' });
  });
  it('keeps exact email matches only (DoorFlow filters partially)', () => {
    const people = [
      { id: 3, email: 'ada@example.com.au' },
      { id: 2, email: 'ADA@example.com' },
      { id: 1, email: 'xada@example.com' },
    ];
    expect(exactEmailMatches(people, 'ada@example.com').map((p) => p.id)).toEqual([2]);
  });
  it('prefers the system_id match; refuses an email held by another system_id', () => {
    const bySid = { id: 5, system_id: 'E1' };
    const byEmail = { id: 6, system_id: 'OTHER', email: 'ada@example.com' };
    expect(chooseExisting(entry, bySid, byEmail)).toBe(bySid);
    expect(() => chooseExisting(entry, undefined, byEmail)).toThrow(/different system_id/);
    expect(chooseExisting(entry, undefined, { ...byEmail, system_id: null })?.id).toBe(6);
  });
});

describe('credential choice', () => {
  it('reuses the most advanced live HID credential, ignoring revoked and other types', () => {
    const creds = [
      { id: 'a', credential_type_id: 8, person_id: 1, status: 'revoked' },
      { id: 'b', credential_type_id: 8, person_id: 1, status: 'invited' },
      { id: 'c', credential_type_id: 3, person_id: 1, status: 'active' },
      { id: 'd', credential_type_id: 8, person_id: 1, status: 'active' },
    ];
    expect(pickLiveCredential(creds, 8)?.id).toBe('d');
    expect(pickLiveCredential(creds.slice(0, 1), 8)).toBeUndefined();
  });
});

describe('invitation polling', () => {
  it('grows from the base delay, never past the remaining wait or 60 s', () => {
    expect(pollDelayMs(0, 1000, 100_000)).toBeLessThanOrEqual(1000);
    expect(pollDelayMs(10, 1000, 100_000)).toBeLessThanOrEqual(60_000);
    expect(pollDelayMs(3, 1000, 500)).toBeLessThanOrEqual(500);
  });
});

describe('webhook delivery', () => {
  it('signs "timestamp.rawBody" so the receiver verifies it; the body carries a delivery id', () => {
    const body = webhookBody(
      {
        runId: 'r1',
        key: 'sid:E1',
        gen: 0,
        delivery: 'webhook',
        entry,
        personId: 4,
        credentialId: 'cr1',
        credentialStatus: 'invited',
        expiresAt: null,
      },
      'ABCD-EFGH-IJKL-MNOP',
      'do this',
    );
    expect(body).toMatchObject({
      delivery_id: 'cr1.webhook',
      run_id: 'r1',
      person: { id: 4, system_id: 'E1' },
      credential: { id: 'cr1', status: 'invited' },
    });
    const raw = JSON.stringify(body);
    const sig = signWebhook('s3cret', 1700000000, raw);
    expect(sig).toMatch(/^[0-9a-f]{64}$/);
    expect(verifySignature('s3cret', '1700000000', raw, sig)).toBe(true);
    expect(verifySignature('s3cret', '1700000001', raw, sig)).toBe(false);
    expect(verifySignature('other', '1700000000', raw, sig)).toBe(false);
  });
});

describe('dead letters and runs', () => {
  it('strips secrets, derives stable ids, replays deliveries from the invitation step', () => {
    expect(stripSecrets({ a: 1, encryptedCode: 'x', token: 't' })).toEqual({ a: 1 });
    expect(deadLetterId('r', 'k', 'credential')).toBe(deadLetterId('r', 'k', 'credential'));
    expect(deadLetterId('r', 'k', 'credential')).not.toBe(deadLetterId('r', 'k', 'person'));
    expect(replayQueueFor('delivery-webhook')).toBe('invitation');
    expect(replayQueueFor('credential')).toBe('credential');
  });
  it('names outcomes and makes colon-free run ids', () => {
    expect(entryOutcome('dead:credential', { code: 'licence_limit' })).toBe('failed: licence_limit');
    expect(entryOutcome('invitation', {})).toBe('pending: invitation');
    expect(newRunId(Date.UTC(2026, 0, 2, 3, 4, 5))).toMatch(/^r20260102030405-[0-9a-f]{6}$/);
  });
});

describe('intake validation', () => {
  it('fills the key, rejects rows without a key or names, and checks channel needs', () => {
    const ok = validateEntry({ system_id: ' 007 ', first_name: 'J', last_name: 'B' }, 0);
    expect('entry' in ok && ok.entry.key).toBe('sid:007');
    const noKey = validateEntry({ first_name: 'J', last_name: 'B', line: 4 }, 0);
    expect('rejected' in noKey && noKey.rejected).toMatchObject({ code: 'key_missing', line: 4 });
    const noName = validateEntry({ email: 'a@b.c', last_name: 'B' }, 0);
    expect('rejected' in noName && noName.rejected.code).toBe('invalid_entry');
    const e = { key: 'sid:1', first_name: 'a', last_name: 'b' };
    expect(channelProblem(e, 'doorflow')?.code).toBe('email_required');
    expect(channelProblem(e, 'sms')?.code).toBe('mobile_required');
    expect(channelProblem(e, 'webhook')).toBeUndefined();
  });
});
