import type { RosterEntry } from '../../lib/roster/entry.ts';

/**
 * The contract every roster source (CSV file or URL, BambooHR, a generic JSON feed) implements.
 * A source yields normalised entries and, for records it could not turn into an entry, a
 * {@link RowProblem} — it never throws for one bad record, and always throws for a failed feed
 * (HTTP error, truncated body, time-out) so that a partial roster can never look complete.
 */

/**
 * A roster entry as a source yields it. `active: false` marks someone the source still lists but
 * who has left (terminated, inactive): a leaver for `sync`, skipped by `import`.
 */
export interface SourceEntry extends RosterEntry {
  active?: boolean;
}

/** One record a source could not use, with the reason and what it held. */
export interface RowProblem {
  readonly kind: 'problem';
  /** Line (CSV, 1-based, where the record starts) or record number in the feed. */
  readonly line: number;
  readonly reason: string;
  /** The roster key, when the record had one (duplicates). */
  readonly key?: string;
  /** The original fields in column order (CSV). */
  readonly values?: readonly string[];
  /** The original record (feeds). */
  readonly record?: Readonly<Record<string, unknown>>;
}

export type SourceItem = SourceEntry | RowProblem;

export function isRowProblem(item: SourceItem): item is RowProblem {
  return (item as { kind?: unknown }).kind === 'problem';
}

/** Per-run counters every source keeps. */
export interface SourceStats {
  /** Records read from the source (rows after the header, excluding blank lines). */
  read: number;
  valid: number;
  invalid: number;
  /** Blank lines skipped (CSV). */
  blank: number;
}

/** What a source tells about itself once it has started (after the header / first page). */
export interface SourceMetadata {
  /** `csv`, `bamboohr`, `json`. */
  readonly source: string;
  /** Human description without secrets: file path, URL without credentials, company. */
  readonly description: string;
  /** Source columns or fields ignored because nothing maps them (reported once). */
  readonly ignoredFields: readonly string[];
  /** Whether the source is a complete roster (false for `--since` incremental feeds). */
  readonly complete: boolean;
}

export interface FetchRosterOptions {
  /** Channel given on the command line; written into entries that do not name one. */
  delivery?: RosterEntry['delivery'];
  /** The run's channel when neither the command line nor the row names one (decides what is required). */
  fallbackDelivery?: RosterEntry['delivery'];
  /** Channels to fall back to, in order, for people the chosen one cannot reach. */
  fallbackOrder?: readonly NonNullable<RosterEntry['delivery']>[];
  /** ISO 3166-1 alpha-2 country for national mobile numbers. */
  defaultCountry?: string;
  /** Incremental: only records changed since this ISO-8601 instant (when the source supports it). */
  since?: string;
}

/** A roster source. `fetchRoster` may be called once per instance. */
export interface RosterAdapter {
  readonly name: string;
  fetchRoster(options: FetchRosterOptions, signal?: AbortSignal): AsyncIterable<SourceItem>;
  /** Available once `fetchRoster` has yielded its first item (or finished). */
  metadata(): SourceMetadata;
  stats(): SourceStats;
}
