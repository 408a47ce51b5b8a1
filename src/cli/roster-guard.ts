import { isSameFile } from '../lib/core/private-file.ts';
import type { RunRecord } from '../lib/store/runs.ts';

/**
 * The roster file a run read, from its source (`csv:PATH` for `import`, `sync:csv:PATH` for a CSV
 * sync, `demo:PATH`); undefined for feeds and webhooks.
 */
function rosterFileOf(source: string): string | undefined {
  const m = /^(?:sync:)?(?:csv|demo):(.+)$/.exec(source);
  const path = m?.[1];
  return path && !/^https?:\/\//.test(path) ? path : undefined;
}

/**
 * The run whose input roster `out` is (through any relative path or link), so `--out` never
 * overwrites a roster with a report of it; undefined when `out` is no run's roster.
 */
export function rosterRunOf(out: string, runs: readonly RunRecord[]): RunRecord | undefined {
  return runs.find((run) => {
    const roster = rosterFileOf(run.source);
    return roster !== undefined && isSameFile(out, roster);
  });
}
