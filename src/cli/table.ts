/**
 * A plain-text table for list commands: a header row, then one row per record, columns padded to
 * their widest cell (numbers right-aligned). The last column is not padded, so long free text
 * (a message, a source) does not leave trailing spaces.
 */
export interface Column<T> {
  header: string;
  cell: (row: T) => string | number;
}

export function formatTable<T>(columns: readonly Column<T>[], rows: readonly T[]): string[] {
  const cells = rows.map((row) => columns.map((c) => c.cell(row)));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((r) => String(r[i] ?? '').length)),
  );
  const numeric = columns.map((_, i) => cells.length > 0 && cells.every((r) => typeof r[i] === 'number'));
  const render = (values: readonly (string | number)[]) =>
    values
      .map((v, i) => {
        const text = String(v);
        if (i === values.length - 1) return text;
        return numeric[i] ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0);
      })
      .join('  ');
  return [render(columns.map((c) => c.header)), ...cells.map(render)];
}
