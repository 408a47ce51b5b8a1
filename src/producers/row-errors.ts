import type { WriteStream } from 'node:fs';
import { once } from 'node:events';
import { createPrivateWriteStream } from '../lib/core/private-file.ts';
import { KeySet } from './key-set.ts';
import { isRowProblem, type RowProblem, type SourceItem } from './sources/adapter.ts';
import { terminalSafe } from '../lib/core/terminal-text.ts';
import { plural } from '../lib/core/plural.ts';

/**
 * Invalid and duplicate rows: deduplication by roster key, the on-screen summary, and the
 * `--errors errors.csv` report (line, reason, then the row's original fields).
 */

/**
 * Drops entries whose key was already seen in this source and reports each as a problem naming
 * the line that won. Memory: a {@link KeySet} (12 bytes a slot), ~24 MB for 1,000,000 keys.
 */
export async function* dedupeBatches(
  batches: AsyncIterable<readonly SourceItem[]>,
  onDuplicate?: () => void,
): AsyncGenerator<SourceItem[]> {
  const seenKeys = new KeySet();
  for await (const batch of batches) {
    const out: SourceItem[] = new Array(batch.length);
    let n = 0;
    for (const item of batch) {
      if (isRowProblem(item)) {
        out[n++] = item;
        continue;
      }
      const seen = seenKeys.addOrGet(item.key, item.line ?? 0);
      if (seen === undefined) {
        out[n++] = item;
        continue;
      }
      onDuplicate?.();
      const problem: RowProblem = {
        kind: 'problem',
        line: item.line ?? 0,
        reason: `duplicate key ${item.key}${seen ? ` (first on line ${seen})` : ''}: sent once`,
        key: item.key,
      };
      out[n++] = problem;
    }
    out.length = n;
    yield out;
  }
}

/** A problem {@link dedupeBatches} made: the key was already sent once from this source. */
export function isDuplicateProblem(problem: RowProblem): boolean {
  return problem.reason.startsWith('duplicate key');
}

/**
 * Quotes a CSV field when it needs it (RFC 4180), and defuses spreadsheet formulas (a text cell
 * starting with = + - @ gets a leading `'`), as the reports do.
 */
export function csvField(value: unknown): string {
  let text = value === undefined || value === null ? '' : String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The `--errors` file: written as problems arrive, so a million bad rows never sit in memory. It
 * holds personal data, so it is owner-only (0600, an existing file's mode replaced).
 */
export class ErrorsFileWriter {
  readonly path: string;
  private readonly stream: WriteStream;
  private written = 0;

  constructor(path: string, headers: readonly string[]) {
    this.path = path;
    this.stream = createPrivateWriteStream(path);
    this.stream.write(`${['line', 'reason', ...headers].map(csvField).join(',')}\n`);
  }

  get count(): number {
    return this.written;
  }

  async write(problem: RowProblem, originalValues?: readonly string[]): Promise<void> {
    const values = originalValues ?? problem.values ?? (problem.record ? Object.values(problem.record) : []);
    this.written += 1;
    const ok = this.stream.write(`${[problem.line, problem.reason, ...values].map(csvField).join(',')}\n`);
    if (!ok) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    if (this.stream.closed) return;
    await new Promise<void>((resolve, reject) =>
      this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  }
}

/** Summary of problems for the screen and `--json`: counts by reason and the first few rows. */
export class ProblemSummary {
  private readonly byReason = new Map<string, number>();
  readonly samples: { line: number; reason: string }[] = [];
  total = 0;
  duplicates = 0;

  constructor(private readonly maxSamples = 20) {}

  add(problem: RowProblem): void {
    this.total += 1;
    if (isDuplicateProblem(problem)) this.duplicates += 1;
    // Group by the reason's shape, not its data ("invalid email" rather than each address).
    const shape = problem.reason
      .replace(/\s*(?:"[^"]*"|\(first on line \d+\)|sid:\S+|email:\S+)/g, '')
      .trim();
    this.byReason.set(shape, (this.byReason.get(shape) ?? 0) + 1);
    if (this.samples.length < this.maxSamples)
      this.samples.push({ line: problem.line, reason: problem.reason });
  }

  reasons(): { reason: string; count: number }[] {
    return [...this.byReason.entries()]
      .map(([reason, count]) => ({ reason, count }))
      .sort((a, b) => b.count - a.count);
  }

  /** Human lines for the terminal. */
  describe(): string[] {
    if (this.total === 0) return [];
    const lines = [`${plural(this.total, 'row')} rejected:`];
    for (const { reason, count } of this.reasons()) lines.push(`  ${count} × ${reason}`);
    for (const s of this.samples.slice(0, 10)) lines.push(`  line ${s.line}: ${terminalSafe(s.reason)}`);
    if (this.total > 10) lines.push(`  … (${this.total - 10} more; use --errors FILE for the full list)`);
    return lines;
  }
}
