import { createReadStream } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rosterEntrySchema } from '../../src/lib/roster/entry.ts';
import { isRowProblem, type RowProblem, type SourceEntry } from '../../src/producers/sources/adapter.ts';
import { type CsvReadOptions, detectDelimiter, openCsvRoster } from '../../src/producers/sources/csv.ts';
import { dedupeBatches } from '../../src/producers/row-errors.ts';

const fixture = (name: string) => new URL(`../fixtures/csv/${name}`, import.meta.url).pathname;

async function readFixture(name: string, options: CsvReadOptions = {}, highWaterMark?: number) {
  const stream = createReadStream(fixture(name), highWaterMark ? { highWaterMark } : {});
  const roster = await openCsvRoster(stream, options);
  const entries: SourceEntry[] = [];
  const problems: RowProblem[] = [];
  for await (const batch of dedupeBatches(roster.batches(3))) {
    for (const item of batch) {
      if (isRowProblem(item)) problems.push(item);
      else entries.push(item);
    }
  }
  for (const entry of entries) expect(rosterEntrySchema.safeParse(entry).success).toBe(true);
  return { header: roster.header, stats: roster.stats, entries, problems };
}

describe('CSV producer: messy files', () => {
  it('strips a UTF-8 BOM and handles CRLF line endings, keeping leading zeros', async () => {
    const { header, entries } = await readFixture('bom-crlf.csv');
    expect(header.headers[0]).toBe('system_id');
    expect(entries.map((e) => [e.system_id, e.key, e.line])).toEqual([
      ['0001', 'sid:0001', 2],
      ['0002', 'sid:0002', 3],
    ]);
    expect(entries[1]?.email).toBe('alan@example.com');
  });

  it('parses quoted fields with commas, newlines and doubled quotes, with start line numbers', async () => {
    // Tiny chunks: quotes and line breaks straddle chunk boundaries.
    const { entries, problems } = await readFixture('quoted.csv', {}, 5);
    expect(entries.map((e) => e.first_name)).toEqual(['Mary, Jr.', 'Bob', 'Carol']);
    expect(entries[0]?.department).toBe('Research, Development');
    expect(entries[0]?.job_title).toBe('Head of "Ideas"');
    expect(entries[1]?.last_name).toBe("O'Neil");
    expect(entries[1]?.department).toBe('Sales\nEMEA');
    expect(entries[2]?.job_title).toBe('Night\nshift\nlead');
    expect(entries.map((e) => e.line)).toEqual([2, 3, 5]);
    expect(problems).toEqual([expect.objectContaining({ line: 8, reason: 'invalid email "not-an-email"' })]);
  });

  it('counts a CRLF inside a quoted field as one line', async () => {
    const { entries, problems } = await readFixture('quoted-crlf.csv');
    expect(entries[0]?.department).toBe('Line one\r\nline two');
    expect(problems[0]?.line).toBe(4);
  });

  it('detects ; and tab delimiters from the header line, and honours --delimiter', async () => {
    const semi = await readFixture('semicolon.csv');
    expect(semi.header.delimiter).toBe(';');
    expect(semi.entries[0]).toMatchObject({
      system_id: '100',
      first_name: 'Jörg',
      department: 'Einkauf, Verkauf',
    });
    const tab = await readFixture('tab.tsv');
    expect(tab.header.delimiter).toBe('\t');
    expect(tab.entries[0]).toMatchObject({
      system_id: '7',
      job_title: 'Engineer, Senior',
      email: 'li.wei@example.com',
    });
    // Forcing the wrong delimiter makes every header one column: the mapping fails fast.
    await expect(readFixture('semicolon.csv', { delimiter: ',' })).rejects.toThrow(/cannot map required/);
    const forced = await readFixture('semicolon.csv', { delimiter: 'semicolon' });
    expect(forced.entries).toHaveLength(2);
    expect(detectDelimiter('"a;b",c,d')).toBe(',');
    expect(detectDelimiter('a;b;"c,d,e"')).toBe(';');
  });

  it('maps the usual human headers, case- and space-insensitively', async () => {
    const { header, entries } = await readFixture('aliases.csv', { defaultCountry: 'GB' });
    expect(header.ignored).toEqual([]);
    expect(entries[0]).toEqual({
      key: 'sid:00042',
      system_id: '00042',
      first_name: 'Grace',
      last_name: 'Hopper',
      email: 'grace@example.com',
      mobile: '+447700900123',
      department: 'Navy',
      job_title: 'Admiral',
      group_ids: [3, 7],
      delivery: 'sms',
      line: 2,
    });
    expect(entries[1]).not.toHaveProperty('mobile');
    expect(entries[1]).not.toHaveProperty('group_ids');
  });

  it('applies --map and fails fast with the headers it saw when a required column is unmappable', async () => {
    const { entries } = await readFixture('map.csv', { map: ['Badge Ref=system_id', 'contact=email'] });
    expect(entries.map((e) => [e.key, e.email])).toEqual([
      ['sid:B-9', 'kj@example.com'],
      ['sid:B-10', 'dv@example.com'],
    ]);
    await expect(readFixture('no-names.csv')).rejects.toThrow(
      /cannot map required columns first_name, last_name.*headers seen: "id", "name", "mail"/,
    );
    await expect(readFixture('map.csv', { map: ['Badge Ref=badge'] })).rejects.toThrow(/invalid --map/);
  });

  it('reports invalid rows with their line number and reason while valid rows go through', async () => {
    const { entries, problems, stats } = await readFixture('invalid-rows.csv', { defaultCountry: 'GB' });
    expect(entries.map((e) => e.system_id)).toEqual(['A1', 'A10']);
    expect(entries[1]).toMatchObject({ mobile: '+447700900456', group_ids: [1, 2], delivery: 'sms' });
    expect(problems.map((p) => [p.line, p.reason])).toEqual([
      [3, 'first name is required'],
      [4, 'last name is required'],
      [5, 'invalid email "bad@@example"'],
      [6, 'mobile is required for sms delivery'],
      [7, 'mobile contains characters other than digits'],
      [8, 'unknown delivery "pigeon" (expected doorflow, webhook, email, sms)'],
      [9, 'groups must be DoorFlow group ids (numbers), got "Sales"'],
      [10, 'neither system_id nor email: the row has no key'],
    ]);
    expect(problems[0]?.values).toEqual(['A2', '', 'Lastonly', 'a2@example.com', '', '', '']);
    expect(problems[0]?.key).toBe('sid:A2');
    expect(stats).toMatchObject({ read: 10, valid: 2, invalid: 8 });
  });

  it('reports duplicate keys inside one file and sends each key once', async () => {
    const { entries, problems } = await readFixture('duplicates.csv');
    expect(entries.map((e) => [e.key, e.first_name])).toEqual([
      ['sid:D1', 'First'],
      ['email:same@example.com', 'Email'],
      ['sid:D2', 'Other'],
    ]);
    expect(problems.map((p) => [p.line, p.reason])).toEqual([
      [3, 'duplicate key sid:D1 (first on line 2): sent once'],
      [5, 'duplicate key email:same@example.com (first on line 4): sent once'],
    ]);
  });

  it('ignores extra unknown columns, reporting them once', async () => {
    const { header, entries, stats } = await readFixture('extra-columns.csv');
    expect(header.ignored).toEqual(['Shoe Size', 'Favourite Colour']);
    expect(entries).toHaveLength(3);
    expect(entries[0]).not.toHaveProperty('Shoe Size');
    expect(stats.extraFields).toBe(1);
  });

  it('skips blank and whitespace-only lines without shifting line numbers', async () => {
    const { entries, stats } = await readFixture('blank-lines.csv');
    expect(entries.map((e) => [e.system_id, e.line])).toEqual([
      ['B1', 5],
      ['B2', 9],
    ]);
    expect(stats.read).toBe(2);
    expect(stats.blank).toBe(5);
  });

  it('keeps Unicode names intact in NFC', async () => {
    const { entries } = await readFixture('unicode.csv');
    expect(entries.map((e) => `${e.first_name} ${e.last_name}`)).toEqual([
      'Zoë Ångström',
      'José Nuñez',
      '李 小龙',
    ]);
    expect(entries[1]?.first_name).toBe('Jos\u00e9');
  });

  it('reads UTF-16LE exports (Excel "Unicode text")', async () => {
    const { entries, header } = await readFixture('utf16.csv');
    expect(header.delimiter).toBe('\t');
    expect(entries).toEqual([
      expect.objectContaining({ system_id: '5', first_name: 'Ute', email: 'ute@example.com' }),
    ]);
  });

  it('marks leavers from status and termination date columns', async () => {
    const { entries } = await readFixture('status.csv', { today: '2026-01-01' });
    expect(entries.map((e) => [e.system_id, e.active])).toEqual([
      ['1', true],
      ['2', false],
      ['3', false],
      ['4', true],
    ]);
  });

  it('fails a malformed file (unclosed quote) with a line number', async () => {
    await expect(readFixture('unclosed-quote.csv')).rejects.toThrow(/malformed CSV near line/);
  });

  it('rejects an empty file', async () => {
    const roster = openCsvRoster((async function* () {})());
    await expect(roster).rejects.toThrow(/empty/);
  });
});
