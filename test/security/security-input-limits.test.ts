import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { terminalSafe } from '../../src/lib/core/terminal-text.ts';
import { isRowProblem, type SourceItem } from '../../src/producers/sources/adapter.ts';
import { openCsvRoster } from '../../src/producers/sources/csv.ts';
import { isRejection, validateRecord } from '../../src/producers/validate-row.ts';

const base = { system_id: 'L1', first_name: 'Ana', last_name: 'Lopes', email: 'ana@example.test' };

describe('input limits (issue 14: unbounded input, terminal escapes)', () => {
  it('caps every roster field at 255 characters, naming the field', () => {
    for (const field of ['department', 'job_title', 'groups', 'mobile', 'delivery', 'status'] as const) {
      const result = validateRecord({ ...base, [field]: 'x'.repeat(256) }, 2, {});
      expect(isRejection(result) && result.reason).toBe(`${field} is longer than 255 characters`);
    }
    expect(isRejection(validateRecord({ ...base, department: 'd'.repeat(255) }, 2, {}))).toBe(false);
  });

  it('refuses C0 (but tab), DEL and C1 control characters in any field; free text keeps line breaks', () => {
    const cases: [string, string, string][] = [
      ['first_name', 'Ana\x1b[2J', 'first name holds a control character (U+001B)'],
      ['last_name', 'Lo\x9bpes', 'last name holds a control character (U+009B)'],
      ['system_id', 'L\x001', 'system_id holds a control character (U+0000)'],
      ['department', 'Sales\x07', 'department holds a control character (U+0007)'],
      ['email', 'ana\n@example.test', 'email holds a control character (U+000A)'],
      ['job_title', 'Lead\x7f', 'job_title holds a control character (U+007F)'],
      ['system_id', 'L1\x0b', 'system_id holds a control character (U+000B)'],
    ];
    for (const [field, value, reason] of cases) {
      const result = validateRecord({ ...base, [field]: value }, 3, {});
      expect(isRejection(result) && result.reason).toBe(reason);
    }
    expect(isRejection(validateRecord({ ...base, first_name: 'Ana\tMaria' }, 3, {}))).toBe(false);
    expect(validateRecord({ ...base, department: 'Sales\r\nEMEA' }, 3, {})).toMatchObject({
      department: 'Sales\r\nEMEA',
    });
  });

  it('a CSV row with a control character is reported with its line while the good rows go through', async () => {
    const csv = [
      'system_id,first_name,last_name,email',
      'A1,Ann,Lee,a1@example.test',
      'A2,\x1b]0;pwned\x07Bob,Lee,a2@example.test',
      'A3,Cid,Lee,a3@example.test',
    ].join('\n');
    const roster = await openCsvRoster(Readable.from([Buffer.from(csv)]));
    const items: SourceItem[] = [];
    for await (const item of roster) items.push(item);
    const problems = items.filter(isRowProblem);
    expect(problems).toEqual([
      expect.objectContaining({ line: 3, reason: 'first name holds a control character (U+001B)' }),
    ]);
    expect(items.filter((i) => !isRowProblem(i))).toHaveLength(2);
  });

  it('a record over 64 KB (an unterminated quote) ends the read with an error naming its first line; the rows before it are handed out', async () => {
    const head =
      'system_id,first_name,last_name,email\nA1,Ann,Lee,a1@example.test\nA2,"Bob,Lee,a2@example.test\n';
    const tail = `${'A9,Zed,Lee,z@example.test\n'.repeat(5000)}`;
    const roster = await openCsvRoster(Readable.from([Buffer.from(head), Buffer.from(tail)]));
    const seen: unknown[] = [];
    const read = async () => {
      for await (const item of roster) seen.push(item);
    };
    await expect(read()).rejects.toThrow(
      /^malformed CSV at line 3: the record is longer than 64 KB \(an unterminated quote\?\)$/,
    );
    expect(seen).toHaveLength(1);
  });

  it('terminalSafe shows control characters as escapes and leaves the rest alone', () => {
    expect(terminalSafe('a\x1b[31mb\x9bc\r\nd\te')).toBe('a\\x1b[31mb\\x9bc\\x0d\\x0ad\\x09e');
    expect(terminalSafe('Jörg Müller')).toBe('Jörg Müller');
  });
});
