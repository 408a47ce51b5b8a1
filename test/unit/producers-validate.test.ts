import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rosterEntrySchema } from '../../src/lib/roster/entry.ts';
import {
  mapFlagFor,
  normaliseHeader,
  parseMapSpecs,
  resolveHeaders,
} from '../../src/producers/sources/headers.ts';
import { KeySet } from '../../src/producers/key-set.ts';
import { normaliseMobile } from '../../src/lib/delivery/phone.ts';
import { csvField, ErrorsFileWriter, ProblemSummary } from '../../src/producers/row-errors.ts';
import { isRejection, type RawRecord, validateRecord } from '../../src/producers/validate-row.ts';

describe('mobile normaliser', () => {
  it.each([
    ['07700 900123', 'GB', '+447700900123'],
    ['+44 (0)7700 900123', undefined, '+447700900123'],
    ['0044 7700-900-123', undefined, '+447700900123'],
    ['(415) 555-0132', 'US', '+14155550132'],
    ['1-415-555-0132', 'US', '+14155550132'],
    ['0151 1234 5678', 'DE', '+4915112345678'],
    ['06 12 34 56 78', 'FR', '+33612345678'],
    ['0412 345 678', 'AU', '+61412345678'],
    ['612 345 678', 'ES', '+34612345678'],
    ['4791234567', 'NO', '+4791234567'],
    ['tel:+353 87 123 4567', undefined, '+353871234567'],
  ])('%s (%s) → %s', (raw, country, e164) => {
    expect(normaliseMobile(raw, country)).toEqual({ ok: true, e164 });
  });

  it.each([
    ['07700 900123', undefined, /international form/],
    ['07700 9001', 'GB', /GB numbers have 9 to 10/],
    ['+44 7700 9001x', undefined, /other than digits/],
    ['+1234', undefined, /8 to 15/],
    ['0612345678', 'XX', /unsupported default country/],
  ])('rejects %s (%s)', (raw, country, reason) => {
    const result = normaliseMobile(raw, country);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });
});

describe('row validation', () => {
  const base: RawRecord = {
    system_id: ' 007 ',
    first_name: ' Ana ',
    last_name: 'Lima',
    email: 'ana@example.com',
  };

  it('trims system_id, keeps it as text and builds the key', () => {
    const entry = validateRecord(base, 4, {});
    expect(entry).toEqual({
      key: 'sid:007',
      system_id: '007',
      first_name: 'Ana',
      last_name: 'Lima',
      email: 'ana@example.com',
      line: 4,
    });
  });

  it('requires an email for doorflow and email delivery, a mobile for sms', () => {
    const noEmail = { ...base, email: '' };
    expect(validateRecord(noEmail, 2, { fallbackDelivery: 'doorflow' })).toEqual({
      reason: 'email is required for doorflow delivery',
      key: 'sid:007',
    });
    expect(isRejection(validateRecord(noEmail, 2, { fallbackDelivery: 'webhook' }))).toBe(false);
    expect(validateRecord(base, 2, { delivery: 'sms' })).toMatchObject({
      reason: 'mobile is required for sms delivery',
    });
    expect(
      validateRecord({ ...base, mobile: '07700900123' }, 2, { delivery: 'sms', defaultCountry: 'gb' }),
    ).toMatchObject({
      mobile: '+447700900123',
      delivery: 'sms',
    });
  });

  it('refuses a mobile it cannot normalise to E.164 even when SMS is not used (DoorFlow gets E.164 only)', () => {
    const refused = validateRecord({ ...base, mobile: 'ext 42' }, 2, {});
    expect(refused).toMatchObject({ reason: expect.stringMatching(/digits/) });
    expect(refused).not.toHaveProperty('mobile');
  });

  it('always yields entries the pipeline schema accepts (property)', () => {
    const field = fc.oneof(
      fc.string(),
      fc.constantFrom('', ' ', 'a@b.co', '+447700900123', '1;2', 'sms', 'email'),
    );
    fc.assert(
      fc.property(
        fc.record({
          system_id: field,
          first_name: field,
          last_name: field,
          email: field,
          mobile: field,
          groups: field,
          delivery: field,
          department: field,
        }),
        (raw) => {
          const result = validateRecord(raw, 1, { defaultCountry: 'GB' });
          if (!isRejection(result)) expect(rosterEntrySchema.safeParse(result).success).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('header mapping', () => {
  it('normalises case, spaces and punctuation', () => {
    expect(normaliseHeader(' Employee_ID ')).toBe('employeeid');
    expect(normaliseHeader('E-Mail')).toBe('email');
  });

  it('lets --map override a built-in alias and ignores a second column for one field', () => {
    const mapping = resolveHeaders(
      ['Email', 'Personal Email', 'First Name', 'Last Name', 'Surname'],
      parseMapSpecs(['Personal Email=email']),
    );
    expect(mapping.indexOf.email).toBe(1);
    expect(mapping.ignored).toEqual(['Email', 'Surname']);
  });

  it('maps identifier-like headers to system_id; # reads as "no"', () => {
    for (const header of ['Employee #', 'Emp No', 'Employee Number', 'Badge ID', 'Person ID', 'Staff ID']) {
      expect(resolveHeaders([header, 'First Name', 'Last Name']).indexOf.system_id, header).toBe(0);
    }
    expect(resolveHeaders(['Mobile No', 'First Name', 'Last Name', 'Email']).indexOf.mobile).toBe(0);
  });

  it('names the ignored columns that may be the identifier, only while nothing feeds system_id', () => {
    const headers = ['Payroll Ref', 'Card #', 'Phone No', 'Post Code', 'First Name', 'Last Name', 'Email'];
    expect(resolveHeaders(headers).possibleSystemIds).toEqual(['Payroll Ref', 'Card #']);
    expect(resolveHeaders(['Staff ID', ...headers]).possibleSystemIds).toEqual([]);
    expect(mapFlagFor('Payroll Ref', 'system_id')).toBe('--map "Payroll Ref=system_id"');
    expect(mapFlagFor('Ref $1', 'system_id')).toBe("--map 'Ref $1=system_id'");
    expect(mapFlagFor('Bob\'s "id"', 'system_id')).toBe(`--map 'Bob'\\''s "id"=system_id'`);
  });
});

describe('duplicate key table', () => {
  it('remembers 200,000 keys and their first lines, and grows', () => {
    const set = new KeySet(16);
    let fresh = 0;
    for (let i = 0; i < 200_000; i += 1) if (set.addOrGet(`sid:${i}`, i + 2) === undefined) fresh += 1;
    expect(fresh).toBe(200_000);
    expect(set.size).toBe(200_000);
    expect(set.addOrGet('sid:0', 999)).toBe(2);
    expect(set.addOrGet('sid:199999', 999)).toBe(200_001);
    expect(set.addOrGet('email:x@y.z', 5)).toBeUndefined();
  });
});

describe('errors file and summary', () => {
  it('writes line, reason and the original fields, quoting where needed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dfp-errors-'));
    try {
      const writer = new ErrorsFileWriter(join(dir, 'errors.csv'), ['system_id', 'first_name', 'note']);
      await writer.write({
        kind: 'problem',
        line: 3,
        reason: 'invalid email "a,b"',
        values: ['1', 'Ann', 'x\ny'],
      });
      await writer.close();
      expect(await readFile(join(dir, 'errors.csv'), 'utf8')).toBe(
        'line,reason,system_id,first_name,note\n3,"invalid email ""a,b""",1,Ann,"x\ny"\n',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(csvField(' padded')).toBe('" padded"');
  });

  it('groups reasons by shape for the screen', () => {
    const summary = new ProblemSummary();
    summary.add({ kind: 'problem', line: 2, reason: 'invalid email "a"' });
    summary.add({ kind: 'problem', line: 3, reason: 'invalid email "b"' });
    summary.add({ kind: 'problem', line: 4, reason: 'duplicate key sid:1 (first on line 2): sent once' });
    expect(summary.reasons()).toEqual([
      { reason: 'invalid email', count: 2 },
      { reason: 'duplicate key: sent once', count: 1 },
    ]);
    expect(summary.duplicates).toBe(1);
  });
});
