import { once } from 'node:events';
import { type CsvError, type Parser, parse } from 'csv-parse';
import { PayloadError, ProvisionerError } from '../../lib/core/errors.ts';
import type { RowProblem, SourceItem, SourceStats } from './adapter.ts';
import { type HeaderMapping, parseMapSpecs, type RosterField, resolveHeaders } from './headers.ts';
import { isRejection, type RawRecord, type ValidateOptions, validateRecord } from '../validate-row.ts';

/**
 * Streaming CSV → roster entries. The file is never read whole: bytes flow through csv-parse,
 * each record is validated inside the parser's `on_record` hook (one pass, no intermediate
 * objects), and consumers pull batches, so memory stays flat whatever the file size.
 */

export interface CsvReadOptions extends ValidateOptions {
  /** `,` `;` `\t` (or `tab`, `comma`, `semicolon`, `|`); detected from the header line when unset. */
  delimiter?: string;
  /** `--map "Badge Ref=system_id"` specifications. */
  map?: readonly string[];
  signal?: AbortSignal;
}

/** What the header line told us. */
interface CsvHeaderInfo extends HeaderMapping {
  readonly delimiter: string;
}

/** An opened CSV roster: the header is resolved (or the open failed fast); rows are pulled lazily. */
export interface CsvRoster {
  readonly header: CsvHeaderInfo;
  /** Live counters; final once iteration ends. `extraFields`: rows with more fields than headers. */
  readonly stats: SourceStats & { extraFields: number };
  /** Items in arrival order, in arrays of up to `size` (fastest way to consume). */
  batches(size?: number): AsyncIterable<SourceItem[]>;
  [Symbol.asyncIterator](): AsyncIterator<SourceItem>;
}

const DELIMITER_NAMES: Readonly<Record<string, string>> = {
  tab: '\t',
  '\\t': '\t',
  '\t': '\t',
  comma: ',',
  ',': ',',
  semicolon: ';',
  ';': ';',
  pipe: '|',
  '|': '|',
};

function parseDelimiter(text: string): string {
  const delimiter = DELIMITER_NAMES[text.toLowerCase()];
  if (!delimiter)
    throw new PayloadError(`invalid --delimiter ${JSON.stringify(text)}: expected , ; tab or |`);
  return delimiter;
}

/** Picks the delimiter that splits the header line most often (outside quotes); `,` by default. */
export function detectDelimiter(headerLine: string): string {
  const counts: Record<string, number> = { ',': 0, ';': 0, '\t': 0, '|': 0 };
  let quoted = false;
  for (const ch of headerLine) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && counts[ch] !== undefined) counts[ch] += 1;
  }
  let best = ',';
  for (const candidate of [';', '\t', '|'])
    if ((counts[candidate] ?? 0) > (counts[best] ?? 0)) best = candidate;
  return best;
}

const MAX_HEADER_BYTES = 1 << 20;
/** Largest record accepted: 64 KB, far above any real row (every field is capped at 255). */
const MAX_RECORD_BYTES = 64 * 1024;

/** Reads chunks until the first line break (or EOF), returning them and the rest of the source. */
async function peekFirstLine(
  iterator: AsyncIterator<Buffer | string>,
): Promise<{ head: Buffer[]; text: string; utf16: boolean }> {
  const head: Buffer[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) break;
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    head.push(chunk);
    size += chunk.length;
    if (chunk.includes(10) || size >= MAX_HEADER_BYTES) break;
  }
  const all = Buffer.concat(head);
  const utf16 = all.length >= 2 && all[0] === 0xff && all[1] === 0xfe;
  let text = utf16 ? all.toString('utf16le') : all.toString('utf8');
  text = text.replace(/^\uFEFF/, '').replace(/^(?:[ \t]*\r?\n)+/, '');
  const nl = text.indexOf('\n');
  return { head, text: nl === -1 ? text : text.slice(0, nl), utf16 };
}

/**
 * Opens a CSV roster from a byte stream (a file stream, an HTTP body). Resolves once the header is
 * read and mapped; rejects with a {@link PayloadError} listing the headers seen when a required
 * column cannot be mapped.
 */
export async function openCsvRoster(
  source: AsyncIterable<Buffer | string>,
  options: CsvReadOptions = {},
): Promise<CsvRoster> {
  const explicit = parseMapSpecs(options.map ?? []);
  const iterator = source[Symbol.asyncIterator]();
  const peek = await peekFirstLine(iterator);
  if (peek.text.trim() === '') throw new PayloadError('the CSV is empty: no header line');
  const delimiter = options.delimiter ? parseDelimiter(options.delimiter) : detectDelimiter(peek.text);
  const stats = { read: 0, valid: 0, invalid: 0, blank: 0, extraFields: 0 };

  let mapping: HeaderMapping | undefined;
  let pairs: [number, RosterField][] = [];
  let width = 0;
  // Without skip_empty_lines every physical line outside quotes is one record (a blank line is
  // `['']`), so a record's line is 1 + the lines of the records before it, plus the line breaks
  // inside its quoted fields. Cheaper than csv-parse's per-record info objects.
  let nextLine = 1;

  const onRecord = (fields: string[]): SourceItem | null => {
    const line = nextLine;
    nextLine += 1;
    for (const field of fields) {
      let at = field.indexOf('\n');
      while (at !== -1) {
        nextLine += 1;
        at = field.indexOf('\n', at + 1);
      }
    }
    const blank = fields.length === 1 ? fields[0]!.trim() === '' : fields.every((f) => f.trim() === '');
    if (mapping === undefined) {
      if (blank) return null;
      mapping = resolveHeaders(fields, explicit);
      width = fields.length;
      pairs = mapping.columns.flatMap((field, index) =>
        field ? [[index, field] as [number, RosterField]] : [],
      );
      return null;
    }
    if (blank) {
      stats.blank += 1;
      return null;
    }
    stats.read += 1;
    if (fields.length > width && fields.slice(width).some((f) => f.trim() !== '')) stats.extraFields += 1;
    const raw: RawRecord = {};
    for (const [index, field] of pairs) raw[field] = fields[index];
    const result = validateRecord(raw, line, options);
    if (isRejection(result)) {
      stats.invalid += 1;
      const problem: RowProblem = { kind: 'problem', line, reason: result.reason, values: fields };
      return result.key ? { ...problem, key: result.key } : problem;
    }
    stats.valid += 1;
    return result;
  };

  const parser = parse({
    bom: true,
    delimiter,
    encoding: peek.utf16 ? 'utf16le' : 'utf8',
    relax_column_count: true,
    relax_quotes: true,
    // An unterminated quote would otherwise swallow the rest of the file into one field.
    max_record_size: MAX_RECORD_BYTES,
  });
  // Feed the parser directly (peeked chunks first), honouring its backpressure.
  let feeding = true;
  const feed = async () => {
    for (const chunk of peek.head) parser.write(chunk);
    for (;;) {
      if (!feeding) return;
      const next = await iterator.next();
      if (next.done || !feeding) break;
      if (!parser.write(next.value)) await once(parser, 'drain');
    }
    if (feeding) parser.end();
  };
  feed().catch((err: unknown) => parser.destroy(err instanceof Error ? err : new Error(String(err))));
  const abort = () => {
    const reason = options.signal?.reason;
    feeding = false;
    parser.destroy(reason instanceof Error ? reason : new ProvisionerError('aborted', 'CSV import aborted'));
  };
  options.signal?.addEventListener('abort', abort, { once: true });
  const cleanup = () => {
    options.signal?.removeEventListener('abort', abort);
    feeding = false;
    parser.destroy();
    // Release the source (closes a file stream or an HTTP body we stopped reading early).
    void iterator.return?.();
  };

  // A failing record starts where the last one read ended.
  const reader = recordReader(parser, () => nextLine);
  // Read up to the header (and the first rows) now, so a bad header fails the open itself.
  let pending: SourceItem[] = [];
  try {
    while (mapping === undefined) {
      const records = await reader.next();
      if (records === undefined) break;
      for (const record of records) {
        const item = onRecord(record);
        if (item) pending.push(item);
      }
    }
    if (mapping === undefined) throw new PayloadError('the CSV is empty: no header line');
  } catch (err) {
    cleanup();
    throw err;
  }
  const header: CsvHeaderInfo = { ...(mapping as HeaderMapping), delimiter };

  async function* batches(size: number): AsyncGenerator<SourceItem[]> {
    try {
      let batch = pending;
      pending = [];
      for (;;) {
        if (batch.length >= size) {
          yield batch;
          batch = [];
        }
        let records: string[][] | undefined;
        try {
          records = await reader.next();
        } catch (err) {
          // The rows before a malformed record still go through; then the error ends the read.
          if (batch.length > 0) yield batch;
          throw err;
        }
        if (records === undefined) break;
        for (const record of records) {
          const item = onRecord(record);
          if (item) batch.push(item);
        }
      }
      if (batch.length > 0) yield batch;
    } finally {
      cleanup();
    }
  }

  return {
    header,
    stats,
    batches: (size = 1000) => batches(size),
    async *[Symbol.asyncIterator]() {
      for await (const batch of batches(1000)) yield* batch;
    },
  };
}

/**
 * Pulls every record the parser has buffered in one go (no promise per record). Resolves
 * `undefined` at the end; rejects with a {@link PayloadError} naming the line on a CSV error.
 */
function recordReader(parser: Parser, startLine: () => number): { next(): Promise<string[][] | undefined> } {
  let failure: unknown;
  let ended = false;
  let wake: (() => void) | undefined;
  parser.on('error', (err) => {
    failure = err;
    wake?.();
  });
  parser.on('end', () => {
    ended = true;
    wake?.();
  });
  parser.on('readable', () => wake?.());
  return {
    async next() {
      for (;;) {
        // Records parsed before the failure are handed out first, so their rows go through.
        const records: string[][] = [];
        let record: string[] | null = parser.read() as string[] | null;
        while (record !== null) {
          records.push(record);
          if (records.length >= 4096) break;
          record = parser.read() as string[] | null;
        }
        if (records.length > 0) return records;
        if (failure !== undefined) throw csvFailure(failure, startLine());
        if (ended || parser.readableEnded) return undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    },
  };
}

function csvFailure(err: unknown, startLine: number): unknown {
  if (err instanceof ProvisionerError) return err;
  const csvError = err as Partial<CsvError> & { lines?: number };
  if (csvError.code === 'CSV_MAX_RECORD_SIZE') {
    return new PayloadError(
      `malformed CSV at line ${startLine}: the record is longer than ${MAX_RECORD_BYTES / 1024} KB (an unterminated quote?)`,
      { cause: err },
    );
  }
  if (typeof csvError.code === 'string' && csvError.code.startsWith('CSV_')) {
    return new PayloadError(
      `malformed CSV near line ${csvError.lines ?? '?'}: ${csvError.message ?? csvError.code}`,
      { cause: err },
    );
  }
  return err;
}
