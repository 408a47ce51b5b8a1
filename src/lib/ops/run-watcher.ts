import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import type { RunFinishedSummary, RunNotifier } from './notify.ts';
import type { RunNoticeStore } from '../store/run-notices.ts';
import { type RunRecord, type RunStore, runSucceeded } from '../store/runs.ts';

/**
 * Watches for runs that finished (every entry done or dead) and, once per run for the whole fleet,
 * counts them in the metrics and sends the NOTIFY_WEBHOOK_URL summary. It polls the recent runs
 * rather than hooking the pipeline's status moves: every worker process can run it, a crash loses
 * nothing (the next poll sees the finished run), and the pipeline stays free of ops concerns.
 */

export interface RunWatcherOptions {
  /** The fleet-wide once-per-finish marks. */
  notices: RunNoticeStore;
  runs: RunStore;
  notifier: RunNotifier;
  metrics: Metrics;
  logger: Logger;
  /** Poll interval. Default 5 s. */
  intervalMs?: number;
  /** Runs finished longer ago than this are ignored (no late notifications after a restart). Default 1 h. */
  lookbackMs?: number;
  /** Recent runs looked at per poll. Default 20. */
  recentRuns?: number;
}

export interface RunWatcher {
  /** One poll (also what the timer runs); returns the ids notified in this poll. */
  poll(): Promise<string[]>;
  stop(): void;
}

/** The run summary the notification carries: counts and failures by error code, no names or codes. */
function runFinishedSummary(run: RunRecord): RunFinishedSummary {
  // From the run's counters (kept by the TRANSITION script): no entry is read, whatever the size.
  const failuresByCode: Record<string, number> = { ...run.failures };
  return {
    runId: run.id,
    outcome: runSucceeded(run) ? 'succeeded' : 'completed_with_failures',
    startedAt: new Date(run.createdAt).toISOString(),
    ...(run.finishedAt !== undefined ? { finishedAt: new Date(run.finishedAt).toISOString() } : {}),
    total: run.total,
    counts: {
      provisioned: run.counts.provisioned ?? 0,
      already_provisioned: run.counts.already_provisioned ?? 0,
      failed: run.dead + (run.counts.invalid ?? 0),
    },
    failuresByCode,
  };
}

export function startRunWatcher(options: RunWatcherOptions): RunWatcher {
  const lookbackMs = options.lookbackMs ?? 3_600_000;
  let polling: Promise<string[]> | undefined;
  const pollOnce = async (): Promise<string[]> => {
    const notified: string[] = [];
    const recent = await options.runs.list(options.recentRuns ?? 20);
    const now = Date.now();
    for (const run of recent) {
      if (run.finishedAt === undefined || now - run.finishedAt > lookbackMs) continue;
      // Counted once per finish across the fleet (a replay that reopens and refinishes counts again).
      const seen = await options.notices.claimFinish(run.id, run.finishedAt, lookbackMs * 2);
      const wanted = await options.notifier.wants(run.id, new Date(run.finishedAt).toISOString());
      if (!seen && !wanted) continue;
      const summary = runFinishedSummary(run);
      if (seen) {
        options.metrics.runFinished(summary.outcome);
        options.logger.info(
          { runId: run.id, outcome: summary.outcome, counts: summary.counts },
          'run finished',
        );
      }
      if (wanted && (await options.notifier.runFinished(summary))) notified.push(run.id);
    }
    return notified;
  };
  const poll = () => {
    polling ??= pollOnce().finally(() => {
      polling = undefined;
    });
    return polling;
  };
  const timer = setInterval(() => {
    poll().catch((err: unknown) => options.logger.warn({ err }, 'run watcher poll failed'));
  }, options.intervalMs ?? 5_000);
  timer.unref();
  return {
    poll,
    stop() {
      clearInterval(timer);
    },
  };
}
