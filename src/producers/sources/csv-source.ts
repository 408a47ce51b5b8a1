import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { PayloadError } from '../../lib/core/errors.ts';
import type {
  FetchRosterOptions,
  RosterAdapter,
  SourceItem,
  SourceMetadata,
  SourceStats,
} from './adapter.ts';
import { type CsvRoster, type CsvReadOptions, openCsvRoster } from './csv.ts';
import type { FeedHttpOptions } from './feed-http.ts';
import { safeUrl } from './safe-url.ts';
import { fetchRules } from '../validate-row.ts';

/** A CSV roster from `--file PATH` or `--url URL`, parsed exactly as `import` parses files. */
export interface CsvSourceOptions extends FeedHttpOptions {
  file?: string;
  url?: string;
  csv?: Omit<CsvReadOptions, 'signal' | 'delivery' | 'fallbackDelivery' | 'fallbackOrder' | 'defaultCountry'>;
}

/** Opens the byte stream of a CSV file or URL. HTTP errors surface as `source_failed`. */
export async function openCsvBytes(
  options: CsvSourceOptions,
  signal?: AbortSignal,
): Promise<AsyncIterable<Buffer | string>> {
  if (options.file) {
    try {
      await access(options.file);
    } catch {
      throw new PayloadError(`cannot read ${options.file}: no such file or not readable`);
    }
    return createReadStream(options.file, { highWaterMark: 256 * 1024, ...(signal ? { signal } : {}) });
  }
  if (!options.url) throw new PayloadError('a CSV source needs --file PATH or --url URL');
  const url = options.url;
  // Loaded only for URLs: a file import (and its dry run) does not carry the HTTP stack.
  const { createFeedHttp, sourceError } = await import('./feed-http.ts');
  const http = createFeedHttp({ ...options, streaming: true });
  const stream = http.stream(url, { headers: { accept: 'text/csv, */*' }, ...(signal ? { signal } : {}) });
  // Map stream failures (HTTP status, reset, time-out) to one error type with a safe message.
  return (async function* () {
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } catch (err) {
      throw sourceError(err, url, 'CSV download');
    }
  })();
}

export class CsvSourceAdapter implements RosterAdapter {
  readonly name = 'csv';
  private roster: CsvRoster | undefined;

  constructor(private readonly options: CsvSourceOptions) {}

  metadata(): SourceMetadata {
    return {
      source: 'csv',
      description: this.options.file ?? safeUrl(this.options.url ?? ''),
      ignoredFields: this.roster?.header.ignored ?? [],
      complete: true,
    };
  }

  stats(): SourceStats {
    const s = this.roster?.stats;
    return s
      ? { read: s.read, valid: s.valid, invalid: s.invalid, blank: s.blank }
      : { read: 0, valid: 0, invalid: 0, blank: 0 };
  }

  async *fetchRoster(options: FetchRosterOptions, signal?: AbortSignal): AsyncGenerator<SourceItem> {
    const bytes = await openCsvBytes(this.options, signal);
    this.roster = await openCsvRoster(bytes, {
      ...(this.options.csv ?? {}),
      ...fetchRules(options, this.options.csv?.today ?? new Date().toISOString().slice(0, 10)),
      ...(signal ? { signal } : {}),
    });
    for await (const batch of this.roster.batches(500)) yield* batch;
  }
}
