import cliProgress from 'cli-progress';
import type { CsvImportSummary, ImportProgress } from '../producers/csv-import.ts';
import { mapFlagFor } from '../producers/sources/headers.ts';
import { terminalSafe } from '../lib/core/terminal-text.ts';
import { plural } from '../lib/core/plural.ts';

/** User-facing output of `import`: a progress bar on a TTY and the end-of-import summary. */

export interface ImportProgressBar {
  update(progress: ImportProgress): void;
  stop(): void;
}

/** Rows read, valid, invalid — redrawn at most ~10 times a second, on stderr so stdout stays clean. */
export function createImportProgress(tty: boolean): ImportProgressBar {
  if (!tty) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: ' reading {read} rows | {valid} valid | {invalid} invalid',
      stream: process.stderr,
      hideCursor: true,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      if (!started) bar.start(0, 0, p);
      started = true;
      bar.update(0, { ...p });
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

/**
 * Warnings for stderr: columns that look like identifiers while nothing feeds `system_id`, so
 * people are keyed by email (a changed address would make a second person), with the exact flag.
 */
export function importWarnings(summary: CsvImportSummary): string[] {
  return summary.possibleSystemIdColumns.map(
    (header) =>
      `warning: no column maps to system_id, so people are keyed by email; if ${JSON.stringify(terminalSafe(header))} ` +
      `holds their identifiers, import with ${mapFlagFor(terminalSafe(header), 'system_id')}`,
  );
}

export function describeImport(summary: CsvImportSummary): string[] {
  const lines: string[] = [];
  const { rows } = summary;
  const delimiter = summary.delimiter === '\t' ? 'tab' : summary.delimiter;
  lines.push(
    `${summary.file}: ${plural(rows.read, 'row')} read (delimiter ${delimiter}), ${rows.valid} valid, ` +
      `${rows.invalid} invalid, ${plural(rows.duplicates, 'duplicate key')}${rows.inactive ? `, ${rows.inactive} inactive skipped` : ''}`,
  );
  if (summary.ignoredColumns.length > 0) {
    lines.push(`ignored columns (no mapping): ${summary.ignoredColumns.join(', ')}`);
  }
  if (rows.extraFields > 0)
    lines.push(`${plural(rows.extraFields, 'row')} had more fields than the header (ignored)`);
  for (const { reason, count } of summary.problems.reasons) lines.push(`  ${count} × ${reason}`);
  for (const s of summary.problems.samples.slice(0, 10))
    lines.push(`  line ${s.line}: ${terminalSafe(s.reason)}`);
  const problemCount = rows.invalid + rows.duplicates;
  if (problemCount > 10 && !summary.errorsFile) lines.push('  … use --errors FILE for the full list');
  if (summary.errorsFile) lines.push(`rejected rows written to ${summary.errorsFile}`);
  if (summary.readError) {
    lines.push(`reading stopped at a malformed record: the rows after it were not read`);
  }
  if (summary.strictRejected) {
    lines.push(
      summary.readError
        ? '--strict: the file could not be read to its end; nothing was imported'
        : `--strict: ${plural(rows.invalid, 'invalid row')}; nothing was imported`,
    );
  } else if (summary.dryRun) {
    lines.push(`dry run: ${plural(rows.valid, 'entry', 'entries')} would be queued; nothing was written`);
  } else if (summary.run) {
    lines.push(
      `run ${summary.run.runId}: ${plural(summary.run.accepted, 'entry', 'entries')} queued, ${plural(summary.run.duplicates, 'duplicate key')} skipped, ${summary.run.rejected} rejected`,
    );
  }
  return lines;
}
