import { PayloadError } from '../lib/core/errors.ts';
import type { DeliveryChannelName } from '../lib/delivery/channel-names.ts';
import { isRowProblem, type SourceEntry, type SourceItem } from './sources/adapter.ts';
import { DEFAULT_WINDOW } from './backpressure.ts';
import { openCsvBytes } from './sources/csv-source.ts';
import { type CsvRoster, openCsvRoster } from './sources/csv.ts';
import type { IntakeDeps, IntakeResult } from './intake.ts';
import { dedupeBatches, ErrorsFileWriter, ProblemSummary } from './row-errors.ts';

/**
 * `import FILE.csv`: stream the file through the CSV producer, report invalid and duplicate rows
 * (screen summary, `--errors` file), and feed valid entries to intake with backpressure. With
 * `--strict` a first pass validates the whole file and nothing is enqueued if any row is invalid;
 * with `--dry-run` nothing touches Redis or DoorFlow.
 */

export interface CsvImportOptions {
  file: string;
  /** The run's channel (`--delivery`, else DELIVERY_DEFAULT). */
  delivery: DeliveryChannelName;
  /** Whether `--delivery` was given: then it is written into every entry. */
  deliveryExplicit?: boolean;
  /** Channels to fall back to, in order, for rows that lack what their channel needs. */
  fallback?: readonly DeliveryChannelName[];
  map?: readonly string[];
  delimiter?: string;
  defaultCountry?: string;
  errorsPath?: string;
  strict?: boolean;
  dryRun?: boolean;
  /** Default {@link DEFAULT_WINDOW}. */
  window?: number;
  prefetch?: boolean;
  signal?: AbortSignal;
  /** Today as YYYY-MM-DD (termination dates). */
  today?: string;
  onProgress?: (progress: ImportProgress) => void;
}

export interface ImportProgress {
  read: number;
  valid: number;
  invalid: number;
}

export interface CsvImportSummary {
  file: string;
  dryRun: boolean;
  /** `--strict` found invalid rows: nothing was enqueued. */
  strictRejected: boolean;
  delimiter: string;
  headers: readonly string[];
  ignoredColumns: readonly string[];
  /**
   * No column feeds `system_id` (people are keyed by email) and these ignored ones look like
   * identifiers: each may be the one, with `--map "Header=system_id"`.
   */
  possibleSystemIdColumns: readonly string[];
  rows: {
    read: number;
    valid: number;
    invalid: number;
    duplicates: number;
    blank: number;
    /** Rows marked inactive/terminated: nothing to provision. */
    inactive: number;
    /** Rows with more fields than the header (extra fields ignored). */
    extraFields: number;
  };
  problems: { reasons: { reason: string; count: number }[]; samples: { line: number; reason: string }[] };
  errorsFile: string | undefined;
  /**
   * The file could not be read to its end (a malformed record, e.g. an unterminated quote): the
   * rows before it were handled as usual, none after it were read.
   */
  readError: string | undefined;
  run: (Pick<IntakeResult, 'accepted' | 'duplicates'> & { runId: string; rejected: number }) | undefined;
}

async function openRoster(options: CsvImportOptions): Promise<CsvRoster> {
  const bytes = await openCsvBytes({ file: options.file }, options.signal);
  return openCsvRoster(bytes, {
    ...(options.map ? { map: options.map } : {}),
    ...(options.delimiter ? { delimiter: options.delimiter } : {}),
    ...(options.defaultCountry ? { defaultCountry: options.defaultCountry } : {}),
    ...(options.deliveryExplicit ? { delivery: options.delivery } : {}),
    fallbackDelivery: options.delivery,
    ...(options.fallback ? { fallbackOrder: options.fallback } : {}),
    today: options.today ?? new Date().toISOString().slice(0, 10),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/**
 * The roster's valid, active, deduplicated entries (a read of its own, before the import's): what
 * the licence headroom check counts. Rows the parser cannot get past end the read, as in the import.
 */
export async function rosterEntries(options: CsvImportOptions): Promise<SourceEntry[]> {
  const entries: SourceEntry[] = [];
  const opened = await openRoster(options);
  try {
    for await (const batch of dedupeBatches(opened.batches(1000)))
      for (const item of batch) if (!isRowProblem(item) && item.active !== false) entries.push(item);
  } catch (err) {
    if (!(err instanceof PayloadError)) throw err;
  }
  return entries;
}

export async function importCsv(
  deps: IntakeDeps | undefined,
  options: CsvImportOptions,
): Promise<CsvImportSummary> {
  const summary = new ProblemSummary();
  const counts = { inactive: 0 };
  let errors: ErrorsFileWriter | undefined;
  let roster: CsvRoster | undefined;
  let run: CsvImportSummary['run'];
  let strictRejected = false;
  let readError: string | undefined;
  const openErrors = (headers: readonly string[]) => {
    if (options.errorsPath && !errors) errors = new ErrorsFileWriter(options.errorsPath, headers);
  };

  /**
   * Reads the roster once, in batches: problems go to the summary and the errors file and leavers
   * are counted (when `report`), and what intake needs (entries and problems) is passed on.
   */
  async function* scan(opened: CsvRoster, report: boolean): AsyncGenerator<SourceItem[]> {
    for await (const batch of dedupeBatches(opened.batches(1000))) {
      const out: SourceItem[] = [];
      for (const item of batch) {
        if (isRowProblem(item)) {
          if (report) {
            summary.add(item);
            await errors?.write(item);
          }
          out.push(item);
        } else if (item.active === false) {
          if (report) counts.inactive += 1;
        } else out.push(item);
      }
      options.onProgress?.({
        read: opened.stats.read,
        valid: opened.stats.valid,
        invalid: opened.stats.invalid,
      });
      yield out;
    }
  }

  /**
   * {@link scan}, ending early (and noting why) at a record the parser cannot get past: the rows
   * before it still count, and a run they went into is closed rather than left open.
   */
  async function* scanToError(opened: CsvRoster, report: boolean): AsyncGenerator<SourceItem[]> {
    try {
      yield* scan(opened, report);
    } catch (err) {
      if (!(err instanceof PayloadError)) throw err;
      readError = err.message;
    }
  }

  try {
    if (options.dryRun || options.strict || !deps) {
      // Validation pass (the whole job for --dry-run; the gate for --strict).
      const opened = await openRoster(options);
      roster = opened;
      openErrors(opened.header.headers);
      for await (const _ of scanToError(opened, true));
      strictRejected = options.strict === true && (summary.total > 0 || readError !== undefined);
    }
    if (!options.dryRun && !strictRejected && deps) {
      // Loaded here: a dry run needs neither Redis nor the queues (nor their memory).
      const { closeRun, enqueueItems, startRun } = await import('./intake.ts');
      // Opened (header read) before the run exists: a file without a usable header makes no run.
      const live = await openRoster(options);
      const handle = await startRun(deps, {
        source: `csv:${options.file}`,
        delivery: options.delivery,
        ...(options.fallback ? { fallback: options.fallback } : {}),
        ...(options.prefetch !== undefined ? { prefetch: options.prefetch } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      // Unless a validation pass already reported them, problems are reported as they stream by.
      const report = roster === undefined;
      readError = undefined;
      // Items flow from the parser straight into intake, which records invalid rows in the run
      // (`failed: invalid_entry` in its report) and counts in-file duplicates.
      roster = live;
      if (report) openErrors(live.header.headers);
      const items = async function* (): AsyncGenerator<SourceItem> {
        for await (const batch of scanToError(live, report)) yield* batch;
      };
      let rejected = 0;
      const result = await enqueueItems(deps, handle, items(), {
        window: options.window ?? DEFAULT_WINDOW,
        signal: options.signal,
        onRejected: () => {
          rejected += 1;
        },
      });
      await closeRun(deps, handle.runId);
      run = {
        runId: handle.runId,
        accepted: result.accepted,
        duplicates: result.duplicates,
        rejected,
      };
    }
  } finally {
    await errors?.close();
  }
  const finalRoster = roster as CsvRoster | undefined;
  return {
    file: options.file,
    dryRun: options.dryRun === true,
    strictRejected,
    delimiter: finalRoster?.header.delimiter ?? ',',
    headers: finalRoster?.header.headers ?? [],
    ignoredColumns: finalRoster?.header.ignored ?? [],
    possibleSystemIdColumns: finalRoster?.header.possibleSystemIds ?? [],
    rows: {
      read: finalRoster?.stats.read ?? 0,
      valid: (finalRoster?.stats.valid ?? 0) - summary.duplicates,
      invalid: finalRoster?.stats.invalid ?? 0,
      duplicates: summary.duplicates,
      blank: finalRoster?.stats.blank ?? 0,
      inactive: counts.inactive,
      extraFields: finalRoster?.stats.extraFields ?? 0,
    },
    problems: { reasons: summary.reasons(), samples: summary.samples },
    errorsFile: errors?.path,
    readError,
    run,
  };
}
