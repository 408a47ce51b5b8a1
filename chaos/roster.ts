/**
 * Roster rows for chaos runs and benchmarks: unique system ids and emails. (test/helpers/pipeline.ts
 * has the same generator, but it imports vitest, which cannot load outside a test run.)
 */

export interface ChaosRow {
  system_id: string;
  first_name: string;
  last_name: string;
  email: string;
  line: number;
}

export function chaosRoster(n: number, start = 1): ChaosRow[] {
  return Array.from({ length: n }, (_, i) => {
    const id = start + i;
    return {
      system_id: `E${String(id).padStart(7, '0')}`,
      first_name: `First${id}`,
      last_name: `Last${id}`,
      email: `person${id}@example.test`,
      line: i + 2,
    };
  });
}

/** The same rows as CSV text (header + one line per row). */
export function rosterCsv(rows: readonly ChaosRow[]): string {
  const lines = ['system_id,first_name,last_name,email'];
  for (const r of rows) lines.push(`${r.system_id},${r.first_name},${r.last_name},${r.email}`);
  return `${lines.join('\n')}\n`;
}
