import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';

/**
 * Minimal CSV roster reader for `import`: columns `system_id,first_name,last_name,email,mobile`
 * (header row required; extra columns ignored; empty cells are absent). The producers area
 * replaces it with the full producer (aliases, --map).
 */
export async function* readRosterCsv(path: string): AsyncIterable<Record<string, unknown>> {
  const parser = createReadStream(path).pipe(
    parse({
      columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()),
      bom: true,
      trim: true,
      skip_empty_lines: true,
      info: true,
    }),
  );
  for await (const item of parser as AsyncIterable<{
    record: Record<string, string>;
    info: { lines: number };
  }>) {
    const row: Record<string, unknown> = { line: item.info.lines };
    for (const field of ['system_id', 'first_name', 'last_name', 'email', 'mobile'] as const) {
      const value = item.record[field];
      if (value !== undefined && value !== '') row[field] = value;
    }
    yield row;
  }
}
