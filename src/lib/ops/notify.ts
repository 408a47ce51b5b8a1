import got from 'got';
import type { Redis } from 'ioredis';
import type { Logger } from '../core/logger.ts';

/**
 * Optional run-finished notification: when `NOTIFY_WEBHOOK_URL` is set, the run summary (counts and
 * failures by error code, never names, codes or tokens) is POSTed there once per finish. "Once" holds
 * across a fleet of workers: a Redis `SET NX` marker claims the send, and is released again when
 * the POST fails so a later finisher may try.
 */

/** What the notification carries. */
export interface RunFinishedSummary {
  runId: string;
  /** `succeeded` when every entry was provisioned, else `completed_with_failures`. */
  outcome: string;
  /** ISO-8601. */
  startedAt?: string;
  /** ISO-8601. */
  finishedAt?: string;
  total: number;
  /** Entry outcome (`provisioned`, `already_provisioned`, `failed`, `dead`) → count. */
  counts: Record<string, number>;
  /** Error code → number of entries that ended with it. */
  failuresByCode: Record<string, number>;
}

export interface NotifierOptions {
  /** `config.lifecycle.notifyWebhookUrl`; undefined turns notifications off. */
  url: string | undefined;
  redis: Redis;
  prefix: string;
  logger: Logger;
  /** Per-request time-out. Default 10 s. */
  timeoutMs?: number;
  /** How long the once-per-run marker is kept. Default 30 days. */
  markerTtlMs?: number;
}

export interface RunNotifier {
  /** Whether a summary for this finish still has to be sent (cheap: no summary needed to ask). */
  wants(runId: string, finishedAt: string | undefined): Promise<boolean>;
  /** Sends the summary unless it was already sent for this finish. Never throws; returns whether it sent. */
  runFinished(summary: RunFinishedSummary): Promise<boolean>;
}

/** One marker per finish: a run replayed and finished again is reported again. */
function markerKey(prefix: string, runId: string, finishedAt: string | undefined): string {
  return `${prefix}:notify:${runId}:${finishedAt ?? ''}`;
}

/** The JSON body POSTed to the webhook. */
export function notificationBody(summary: RunFinishedSummary): Record<string, unknown> {
  return {
    event: 'run.finished',
    run_id: summary.runId,
    outcome: summary.outcome,
    started_at: summary.startedAt ?? null,
    finished_at: summary.finishedAt ?? null,
    total: summary.total,
    counts: summary.counts,
    failures_by_code: summary.failuresByCode,
  };
}

export function createRunNotifier(options: NotifierOptions): RunNotifier {
  const { url, redis, logger } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const markerTtlMs = options.markerTtlMs ?? 30 * 86_400_000;
  return {
    async wants(runId, finishedAt) {
      if (!url) return false;
      return (await redis.exists(markerKey(options.prefix, runId, finishedAt))) === 0;
    },
    async runFinished(summary) {
      if (!url) return false;
      const marker = markerKey(options.prefix, summary.runId, summary.finishedAt);
      try {
        const claimed = await redis.set(marker, String(Date.now()), 'PX', markerTtlMs, 'NX');
        if (claimed !== 'OK') return false;
      } catch (err) {
        logger.warn({ err, runId: summary.runId }, 'could not claim the run notification');
        return false;
      }
      try {
        await got.post(url, {
          json: notificationBody(summary),
          timeout: { request: timeoutMs },
          retry: { limit: 2, methods: ['POST'] },
          headers: { 'user-agent': 'doorflow-provisioner' },
        });
        logger.info({ runId: summary.runId }, 'run summary sent to NOTIFY_WEBHOOK_URL');
        return true;
      } catch (err) {
        await redis.del(marker).catch(() => undefined);
        const status = (err as { response?: { statusCode?: number } }).response?.statusCode;
        // The URL may carry credentials in its query: log the host only.
        logger.warn(
          { runId: summary.runId, status, host: safeHost(url), code: (err as { code?: string }).code },
          'run notification failed',
        );
        return false;
      }
    },
  };
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid url)';
  }
}
