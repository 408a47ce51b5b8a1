import type { RedisConnection } from '../core/redis.ts';
import { luaScript } from '../core/lua.ts';
import { PIPELINE_QUEUES } from '../jobs/pipeline-queues.ts';
import type { RedisKeys } from '../store/keys.ts';
import type { RunPages } from '../store/run-pages.ts';
import { groupCounts, type RunRecord, type RunStore } from '../store/runs.ts';

/**
 * The live figures of a run (the admin live view polls them; `runs show` prints them on a
 * terminal): per-step progress, people per minute, an ETA, DoorFlow requests per second against
 * the budget, and the run's per-minute series of settled entries and failures by code. Everything
 * comes from counters and the per-minute series the TRANSITION script keeps: no entry is read.
 */

export interface LiveSnapshot {
  runId: string;
  /** ms since the epoch, when this was read. */
  at: number;
  total: number;
  /** Entries at an end (provisioned, failed, or any outcome that is not pending). */
  settled: number;
  finished: boolean;
  /** Entries past each step out of those that must pass it (every entry not refused at intake). */
  steps: { step: string; done: number; total: number }[];
  /** Entries settled per minute over the last five minutes (or since the start, if shorter). */
  peoplePerMinute: number;
  /** Seconds until every entry is settled at that pace; null when finished or nothing settles. */
  etaSeconds: number | null;
  /** DoorFlow requests in the last second, fleet-wide (the budget's log). */
  requestsPerSecond: number;
  budgetPerSecond: number;
  failures: Record<string, number>;
  series: { minutes: number[]; settled: number[]; failures: Record<string, number[]> };
}

export interface LiveDeps {
  redis: RedisConnection;
  keys: RedisKeys;
  runs: RunStore;
  pages: RunPages;
  /** DOORFLOW_RATE_LIMIT. */
  budgetPerSecond: number;
  now?: () => number;
}

/** Requests the fleet committed in the last second: the budget log's scores are Redis TIME in µs. */
const RECENT_REQUESTS = luaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
return redis.call('ZCOUNT', KEYS[1], string.format('(%.0f', now - 1000000), '+inf')
`);

const PACE_MINUTES = 5;

/** The series hash as arrays over every minute from the run's start to now (gaps are zeros). */
function seriesOf(raw: Record<string, string>, fromMinute: number, toMinute: number): LiveSnapshot['series'] {
  const span = Math.max(1, Math.min(toMinute - fromMinute + 1, 7 * 24 * 60));
  const start = toMinute - span + 1;
  const minutes = Array.from({ length: span }, (_, i) => (start + i) * 60);
  const settled = new Array<number>(span).fill(0);
  const failures: Record<string, number[]> = {};
  for (const [field, value] of Object.entries(raw)) {
    const [minute, kind, code] = field.split('|');
    const i = Number(minute) - start;
    if (!(i >= 0 && i < span)) continue;
    const n = Number(value);
    settled[i] = (settled[i] ?? 0) + n;
    if (kind === 'fail' && code) {
      failures[code] ??= new Array<number>(span).fill(0);
      const row = failures[code];
      row[i] = (row[i] ?? 0) + n;
    }
  }
  return { minutes, settled, failures };
}

export function snapshotOf(
  run: RunRecord,
  raw: Record<string, string>,
  figures: { now: number; requestsPerSecond: number; budgetPerSecond: number },
): LiveSnapshot {
  const groups = groupCounts(run);
  const settled = run.total - (groups.pending ?? 0);
  const nowMinute = Math.floor(figures.now / 60_000);
  const series = seriesOf(raw, Math.floor(run.createdAt / 60_000), nowMinute);
  const window = Math.min(PACE_MINUTES, series.settled.length);
  const recent = series.settled.slice(-window).reduce((a, b) => a + b, 0);
  // The current minute is partial: count the time elapsed in it, not a whole minute.
  const elapsedMin = Math.max(window - 1 + (figures.now % 60_000) / 60_000, 1 / 60);
  const peoplePerMinute = recent / elapsedMin;
  const remaining = run.total - settled;
  const finished = run.finishedAt !== undefined;
  const mustPass = run.total - (run.counts.invalid ?? 0);
  return {
    runId: run.id,
    at: figures.now,
    total: run.total,
    settled,
    finished,
    steps: PIPELINE_QUEUES.filter(
      (s) => !s.startsWith('delivery-') || (run.done[s] ?? 0) + (run.counts[s] ?? 0) > 0,
    ).map((step) => ({ step, done: run.done[step] ?? 0, total: mustPass })),
    peoplePerMinute: Math.round(peoplePerMinute * 10) / 10,
    etaSeconds: finished || peoplePerMinute <= 0 ? null : Math.round((remaining / peoplePerMinute) * 60),
    requestsPerSecond: figures.requestsPerSecond,
    budgetPerSecond: figures.budgetPerSecond,
    failures: run.failures,
    series,
  };
}

/** Undefined when the run does not exist. */
export async function liveSnapshot(deps: LiveDeps, runId: string): Promise<LiveSnapshot | undefined> {
  const run = await deps.runs.get(runId);
  if (!run) return undefined;
  const [raw, requests] = await Promise.all([
    deps.pages.series(runId),
    RECENT_REQUESTS.run(deps.redis, [deps.keys.budgetLog], []),
  ]);
  return snapshotOf(run, raw, {
    now: deps.now?.() ?? Date.now(),
    requestsPerSecond: Number(requests),
    budgetPerSecond: deps.budgetPerSecond,
  });
}

function bar(done: number, total: number, width = 30): string {
  const share = total > 0 ? Math.min(1, done / total) : 0;
  const full = Math.round(share * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.round(share * 100)).padStart(3)}%`;
}

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min` : `${seconds} s`;
}

/** The same figures as text, for `runs show` on a terminal. */
export function formatLive(s: LiveSnapshot): string {
  const lines = [`  progress ${bar(s.settled, s.total)}  ${s.settled}/${s.total} settled`];
  for (const step of s.steps)
    lines.push(`  ${step.step.padEnd(18)}${bar(step.done, step.total, 20)}  ${step.done}`);
  const eta = s.finished
    ? 'finished'
    : s.etaSeconds === null
      ? 'ETA unknown'
      : `ETA ${duration(s.etaSeconds)}`;
  lines.push(
    `  ${s.peoplePerMinute} people/min · ${eta} · DoorFlow ${s.requestsPerSecond}/${s.budgetPerSecond} requests/s (fleet)`,
  );
  const codes = Object.entries(s.failures).sort((a, b) => b[1] - a[1]);
  if (codes.length > 0) lines.push(`  failures: ${codes.map(([c, n]) => `${c} ${n}`).join(', ')}`);
  return lines.join('\n');
}
