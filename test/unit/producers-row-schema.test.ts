import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DELIVERY_CHANNELS } from '../../src/lib/delivery/channel-names.ts';
import { rosterEntrySchema } from '../../src/lib/roster/entry.ts';
import type { SourceEntry } from '../../src/producers/sources/adapter.ts';
import {
  isRejection,
  type RawRecord,
  type ValidateOptions,
  validateEntry,
  validateRecord,
} from '../../src/producers/validate-row.ts';

/**
 * The row validator (before the queue) and the zod roster-entry schema (at each job boundary) must
 * agree: whatever the validator accepts, the schema accepts unchanged, so a job never fails its
 * boundary parse for a row intake let through. The converse cannot hold (the schema does not know
 * field lengths, channels or phone numbering plans); what holds instead: the validator's output is
 * its own fixed point (validating once is enough), and when the schema accepts an entry the
 * validator refuses, the reason is one of the rules only the validator knows.
 */

const text = fc.oneof(
  fc.string(),
  fc.constantFrom(
    '',
    ' ',
    '  Ana ',
    'Zoë',
    'Zoe\u0308',
    'a@b.co',
    'ANA@Example.com ',
    'bad@@example',
    '007',
    '+447700900123',
    '07700 900123',
    '020 7946 0958',
    '0803 123 4567',
    '12ab',
    '1;2',
    '3|3, 4',
    '99999999999',
    'sms',
    'email',
    'webhook',
    'doorflow',
    'pigeon',
    'inactive',
    '2020-01-01',
    'x'.repeat(256),
  ),
);

/** Mostly plausible values (so most rows get far into the validator), sometimes anything. */
function mostly(...plausible: string[]): fc.Arbitrary<string> {
  return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...plausible) }, { weight: 1, arbitrary: text });
}

const record: fc.Arbitrary<RawRecord> = fc.record(
  {
    system_id: mostly('E1', ' 007 ', 'E-2'),
    first_name: mostly('Ana', ' Zoë ', 'Zoe\u0308', "O'Brien"),
    last_name: mostly('Lima', 'Ek', 'van der Berg'),
    email: mostly('ana@example.com', 'ANA@Example.com ', 'x.y+z@b.co'),
    mobile: mostly(
      '+447700900123',
      '07700 900123',
      '020 7946 0958',
      '0803 123 4567',
      '(415) 555-0132',
      'n/a',
    ),
    groups: mostly('1;2', '3|3, 4', ''),
    delivery: mostly('sms', 'email', 'webhook', 'doorflow', ''),
    department: text,
    job_title: text,
    status: mostly('active', 'inactive'),
    termination_date: mostly('2020-01-01', '2030-01-01', '0000-00-00'),
  },
  { requiredKeys: [] },
);

const channel = fc.constantFrom(...DELIVERY_CHANNELS);
const rules: fc.Arbitrary<ValidateOptions> = fc.record(
  {
    delivery: channel,
    fallbackDelivery: channel,
    fallbackOrder: fc.uniqueArray(channel, { maxLength: 3 }),
    defaultCountry: fc.constantFrom('GB', 'ng', 'US', 'DE'),
    today: fc.constant('2026-01-15'),
  },
  { requiredKeys: ['today'] },
);

/** A validated entry without the source-only `active` flag: what a job carries. */
function jobEntry(entry: SourceEntry) {
  const { active: _active, ...rest } = entry;
  return rest;
}

describe('row validator and roster-entry schema agree (property)', () => {
  it('whatever the validator accepts, the schema accepts unchanged', () => {
    fc.assert(
      fc.property(record, rules, fc.integer({ min: 1, max: 1_000_000 }), (raw, options, line) => {
        const result = validateRecord(raw, line, options);
        if (isRejection(result)) return;
        const parsed = rosterEntrySchema.safeParse(jobEntry(result));
        expect(parsed.success).toBe(true);
        expect(parsed.data).toStrictEqual(jobEntry(result));
      }),
      { numRuns: 3000 },
    );
  });

  it('entries handed over as objects: accepted ones pass the schema unchanged too', () => {
    const value = fc.oneof(
      text,
      fc.constant(undefined),
      fc.constant(null),
      fc.integer(),
      fc.array(fc.integer({ min: -2, max: 3_000_000_000 }), { maxLength: 3 }),
    );
    const entry = fc.record(
      {
        system_id: value,
        first_name: value,
        last_name: value,
        email: value,
        mobile: value,
        group_ids: value,
        delivery: value,
        line: fc.oneof(fc.integer({ min: -1, max: 50 }), fc.constant(1.5)),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(entry, rules, (raw, options) => {
        const result = validateEntry(raw, 0, options);
        if (!('entry' in result)) return;
        const parsed = rosterEntrySchema.safeParse(result.entry);
        expect(parsed.success).toBe(true);
        expect(parsed.data).toStrictEqual(result.entry);
      }),
      { numRuns: 3000 },
    );
  });

  it('the validator’s output is its own fixed point: validating it again changes nothing', () => {
    fc.assert(
      fc.property(record, rules, fc.integer({ min: 1, max: 1_000_000 }), (raw, options, line) => {
        const first = validateRecord(raw, line, options);
        if (isRejection(first)) return;
        const again = validateEntry(jobEntry(first), 0, options);
        expect(again).toStrictEqual({ entry: jobEntry(first) });
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses a schema-valid entry only for rules the schema does not know', () => {
    // Lengths DoorFlow enforces, blank names and ids, group ids beyond DoorFlow's range, the
    // address a channel needs, a mobile that SMS cannot reach, and a key not derived from the entry.
    const validatorOnly =
      /longer than 255|name is required|names? are required|neither system_id nor email|groups must be DoorFlow group ids|is required for \w+ delivery|^mobile /;
    const entry = fc.record(
      {
        key: fc.constantFrom('sid:1', 'email:a@b.co', 'k'),
        system_id: fc.oneof(text, fc.constant('E1')).filter((v) => v.length > 0),
        first_name: text.filter((v) => v.length > 0),
        last_name: text.filter((v) => v.length > 0),
        email: fc.constantFrom('a@b.co', 'x.y+z@example.com', 'A@EXAMPLE.ORG'),
        mobile: text,
        department: text,
        job_title: text,
        group_ids: fc.array(fc.integer({ min: 1, max: 3_000_000_000 }), { maxLength: 3 }),
        delivery: channel,
        line: fc.integer({ min: 1, max: 1_000_000 }),
      },
      { requiredKeys: ['key', 'first_name', 'last_name'] },
    );
    fc.assert(
      fc.property(entry, rules, (candidate, options) => {
        fc.pre(rosterEntrySchema.safeParse(candidate).success);
        const result = validateEntry(candidate, 0, options);
        if ('rejected' in result) expect(result.rejected.message).toMatch(validatorOnly);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('entries handed to intake as objects', () => {
  const run = { fallbackDelivery: 'doorflow', fallbackOrder: ['sms', 'webhook'] } as const;

  it('are validated by the row validator: trimmed, keyed, group ids checked, channel decided', () => {
    expect(
      validateEntry(
        {
          system_id: ' E1 ',
          first_name: ' Di ',
          last_name: 'Fox',
          group_ids: [2, 2, 7],
          mobile: '+44 7700 900123',
        },
        0,
        run,
      ),
    ).toEqual({
      entry: {
        key: 'sid:E1',
        system_id: 'E1',
        first_name: 'Di',
        last_name: 'Fox',
        group_ids: [2, 7],
        mobile: '+447700900123',
        delivery: 'sms',
      },
    });
  });

  it('are refused with the code the run records', () => {
    const refused = (value: unknown) => {
      const result = validateEntry(value, 4, run);
      return 'rejected' in result ? result.rejected : undefined;
    };
    expect(refused({ system_id: 'E2', first_name: 'Ed', last_name: 'Gul', line: 9 })).toBeUndefined();
    // A mobile that cannot be put in E.164 (national form, no default country) is refused with its line.
    expect(
      refused({ system_id: 'E2', first_name: 'Ed', last_name: 'Gul', mobile: '020 7946 0958', line: 9 }),
    ).toMatchObject({ key: 'sid:E2', line: 9, code: 'invalid_mobile' });
    expect(
      validateEntry(
        { system_id: 'E2', first_name: 'Ed', last_name: 'Gul', mobile: '+44 7700 900123' },
        4,
        run,
      ),
    ).toMatchObject({
      entry: { mobile: '+447700900123' },
    });
    // With the run's fallback a landline's row goes by webhook; without one, it is refused.
    const landline = {
      system_id: 'E3',
      first_name: 'Fi',
      last_name: 'Hay',
      delivery: 'sms',
      mobile: '+44 20 7946 0958',
    };
    expect(validateEntry(landline, 0, run)).toMatchObject({ entry: { delivery: 'webhook' } });
    expect(validateEntry(landline, 0, {})).toEqual({
      rejected: {
        key: 'sid:E3',
        line: undefined,
        code: 'invalid_mobile',
        message: 'mobile is a landline (fixed-line) number; SMS needs a mobile',
      },
    });
    expect(refused({ first_name: 'No', last_name: 'Key' })).toMatchObject({
      key: 'line:5',
      code: 'key_missing',
    });
    expect(refused({ system_id: 7, first_name: 'A', last_name: 'B' })).toMatchObject({
      code: 'invalid_entry',
      message: 'system_id: expected text',
    });
    expect(refused({ system_id: 'E4', first_name: 'A', last_name: 'B', group_ids: [0] })).toMatchObject({
      code: 'invalid_entry',
    });
    expect(
      validateEntry({ system_id: 'E5', first_name: 'A', last_name: 'B' }, 0, { fallbackDelivery: 'email' }),
    ).toEqual({
      rejected: {
        key: 'sid:E5',
        line: undefined,
        code: 'email_required',
        message: 'email is required for email delivery',
      },
    });
  });
});
