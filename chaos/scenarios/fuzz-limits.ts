import fc from 'fast-check';
import { PayloadError } from '../../src/lib/core/errors.ts';
import { isRowProblem, type SourceItem } from '../../src/producers/sources/adapter.ts';
import { openCsvRoster } from '../../src/producers/sources/csv.ts';
import { jsonDepthBeyond } from '../../src/producers/sources/feed-http.ts';
import { expectations, type Scenario } from '../scenario.ts';

/**
 * The input limits (issue 14) under fuzzing. Property 1: files mixing good rows with rows holding
 * over-long fields or control characters, in random chunk sizes: every bad row is reported at its
 * line with the reason, no good row is lost. Property 2: a record past 64 KB (an unterminated quote
 * or a huge field) anywhere in a file ends the read with a PayloadError naming the line it starts
 * on, after every row before it was handed out. Property 3: random bracket soups never make the
 * nesting check disagree with a reference count. Then a 100 MB unterminated quote, streamed: peak
 * heap growth stays bounded.
 */

type Bad = { value: string; reason: RegExp };

const CONTROL = fc.constantFrom('\x00', '\x07', '\x1b', '\x1b[2J', '\x7f', '\x85', '\x9b', '\x0b');
const badValue = fc.oneof(
  fc
    .integer({ min: 256, max: 4000 })
    .map((n): Bad => ({ value: 'x'.repeat(n), reason: /is longer than 255/ })),
  fc
    .tuple(fc.string({ maxLength: 5 }), CONTROL, fc.string({ maxLength: 5 }))
    .filter(([a, c, b]) => !/[\r\n",]/.test(a + c + b))
    .map(([a, c, b]): Bad => ({ value: `Z${a}${c}${b}`, reason: /holds a control character/ })),
);

type Row = { good: true } | { good: false; bad: Bad; column: number };

const COLUMNS = ['system_id', 'first_name', 'last_name', 'department'];

function csvOf(rows: Row[]): string {
  const lines = ['system_id,first_name,last_name,email,department'];
  rows.forEach((row, i) => {
    const cells = [`L${i}`, 'Ann', 'Lee', `l${i}@example.test`, 'Ops'];
    if (!row.good) cells[[0, 1, 2, 4][row.column]!] = row.bad.value;
    lines.push(cells.map((c) => (/[",\r\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(','));
  });
  return `${lines.join('\n')}\n`;
}

async function* chunked(text: string, sizes: number[]): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text);
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length] ?? 1024;
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

async function readItems(source: AsyncIterable<Buffer>, items: SourceItem[]): Promise<void> {
  const roster = await openCsvRoster(source, { fallbackDelivery: 'webhook' });
  for await (const batch of roster.batches(50)) items.push(...batch);
}

function referenceDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') max = Math.max(max, ++depth);
    else if (ch === ']' || ch === '}') depth--;
  }
  return max;
}

export const fuzzLimits: Scenario = {
  name: 'fuzz-limits',
  title:
    'fuzzed input limits (huge fields, unterminated quotes, deep JSON, control characters): no crash, every bad row reported with its line, memory bounded',
  async run({ quick, log }) {
    const started = Date.now();
    const { failures, expect } = expectations();
    const runs = quick ? 50 : 250;
    let badRows = 0;

    const rowsProperty = fc.asyncProperty(
      fc.array(
        fc.oneof(
          fc.constant<Row>({ good: true }),
          fc.record({
            good: fc.constant(false as const),
            bad: badValue,
            column: fc.integer({ min: 0, max: 3 }),
          }),
        ),
        { minLength: 1, maxLength: 40 },
      ),
      fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 6 }),
      async (rows, sizes) => {
        const items: SourceItem[] = [];
        await readItems(chunked(csvOf(rows), sizes), items);
        if (items.length !== rows.length) throw new Error(`${rows.length} rows in, ${items.length} out`);
        rows.forEach((row, i) => {
          const item = items[i]!;
          if (item.line !== i + 2) throw new Error(`row ${i}: line ${item.line}, expected ${i + 2}`);
          if (row.good && isRowProblem(item)) throw new Error(`good row ${i} refused: ${item.reason}`);
          if (!row.good) {
            badRows++;
            if (!isRowProblem(item)) throw new Error(`bad row ${i} (${COLUMNS[row.column]}) accepted`);
            if (!row.bad.reason.test(item.reason)) throw new Error(`row ${i}: reason "${item.reason}"`);
          }
        });
      },
    );
    const rowsCheck = await fc.check(rowsProperty, { numRuns: runs, seed: 14 });
    expect(!rowsCheck.failed, `rows property: ${fc.defaultReportMessage(rowsCheck) ?? ''}`.slice(0, 2000));
    log(`fuzz-limits: rows property ${rowsCheck.failed ? 'FAILED' : 'held'} over ${rowsCheck.numRuns} files`);

    const oversizeProperty = fc.asyncProperty(
      fc.integer({ min: 0, max: 300 }),
      fc.boolean(),
      fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 6 }),
      async (before, unterminated, sizes) => {
        const head = csvOf(Array.from({ length: before }, () => ({ good: true }) as Row));
        const bad = unterminated
          ? `X1,"Bob,Lee,x@example.test\n${'X2,Zed,Lee,z@example.test\n'.repeat(4000)}`
          : `X1,Bob,Lee,x@example.test,${'y'.repeat(70_000)}\nX2,Zed,Lee,z@example.test,Ops\n`;
        const items: SourceItem[] = [];
        try {
          await readItems(chunked(head + bad, sizes), items);
        } catch (err) {
          if (!(err instanceof PayloadError)) throw err;
          const line = before + 2;
          if (!err.message.startsWith(`malformed CSV at line ${line}: the record is longer than 64 KB`))
            throw new Error(`unexpected message: ${err.message}`);
          if (items.length !== before)
            throw new Error(`${before} rows before the record, ${items.length} read`);
          return;
        }
        throw new Error('an oversize record was read without an error');
      },
    );
    const oversizeCheck = await fc.check(oversizeProperty, { numRuns: Math.ceil(runs / 2), seed: 15 });
    expect(
      !oversizeCheck.failed,
      `oversize property: ${fc.defaultReportMessage(oversizeCheck) ?? ''}`.slice(0, 2000),
    );
    log(
      `fuzz-limits: oversize property ${oversizeCheck.failed ? 'FAILED' : 'held'} over ${oversizeCheck.numRuns} files`,
    );

    const depthProperty = fc.property(
      fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', ','), maxLength: 400 }),
      fc.integer({ min: 1, max: 80 }),
      (text, max) => {
        const beyond = jsonDepthBeyond(text, max) !== undefined;
        if (beyond !== referenceDepth(text) > max)
          throw new Error(`depth check disagrees on ${text} (max ${max})`);
      },
    );
    const depthCheck = fc.check(depthProperty, { numRuns: runs * 20, seed: 16 });
    expect(!depthCheck.failed, `depth property: ${fc.defaultReportMessage(depthCheck) ?? ''}`.slice(0, 2000));

    // 100 MB with an unterminated quote on line 3, generated as it is read: the heap must not grow
    // with the file.
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let heapPeak = heapBefore;
    async function* hundredMegabytes(): AsyncGenerator<Buffer> {
      yield Buffer.from('system_id,first_name,last_name,email\nH1,Ann,Lee,h1@example.test\nH2,"Bob,Lee\n');
      const block = Buffer.from('H9,Zed,Lee,zed@example.test\n'.repeat(10_000));
      for (let sent = 0; sent < 100 * 1024 * 1024; sent += block.length) {
        heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
        yield block;
      }
    }
    const items: SourceItem[] = [];
    let hugeMessage = '';
    try {
      await readItems(hundredMegabytes(), items);
    } catch (err) {
      hugeMessage = err instanceof Error ? err.message : String(err);
    }
    const heapGrowthMb = Math.round((heapPeak - heapBefore) / 2 ** 20);
    expect(hugeMessage.startsWith('malformed CSV at line 3:'), `100 MB file: "${hugeMessage}"`);
    expect(items.length === 1, `100 MB file: ${items.length} rows before the quote, expected 1`);
    expect(heapGrowthMb < 100, `100 MB file: heap grew ${heapGrowthMb} MB`);
    log(`fuzz-limits: 100 MB unterminated quote → "${hugeMessage}", heap growth ${heapGrowthMb} MB`);

    return {
      name: 'fuzz-limits',
      ok: failures.length === 0,
      durationMs: Date.now() - started,
      failures,
      figures: {
        mixedFiles: rowsCheck.numRuns,
        badRowsChecked: badRows,
        oversizeFiles: oversizeCheck.numRuns,
        depthStrings: depthCheck.numRuns,
        hundredMegabyteHeapGrowthMb: heapGrowthMb,
      },
    };
  },
};
