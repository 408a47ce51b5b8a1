import { describe, expect, it } from 'vitest';
import { isRejection, validateRecord } from '../../src/producers/validate-row.ts';

describe('field lengths', () => {
  it('refuses a name, email or system_id longer than 255 characters at import, with the reason', () => {
    const long = 'x'.repeat(256);
    const base = { system_id: 'L1', first_name: 'Ana', last_name: 'Lopes', email: 'ana@example.test' };
    expect(validateRecord({ ...base, first_name: long }, 2, {})).toEqual({
      key: 'sid:L1',
      reason: 'first name is longer than 255 characters',
    });
    const longId = validateRecord({ ...base, system_id: long }, 3, {});
    expect(isRejection(longId) && longId.reason).toBe('system_id is longer than 255 characters');
    expect(isRejection(validateRecord({ ...base, last_name: 'y'.repeat(255) }, 4, {}))).toBe(false);
  });
});
