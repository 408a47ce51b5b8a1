import got from 'got';
import type { Logger } from '../core/logger.ts';
import type { RunNoticeStore } from '../store/run-notices.ts';

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
  /** The fleet-wide once-per-finish marks. */
  notices: RunNoticeStore;
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
  const { url, notices, logger } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const markerTtlMs = options.markerTtlMs ?? 30 * 86_400_000;
  return {
    async wants(runId, finishedAt) {
      if (!url) return false;
      return !(await notices.notified(runId, finishedAt));
    },
    async runFinished(summary) {
      if (!url) return false;
      const { runId, finishedAt } = summary;
      try {
        if (!(await notices.claimNotification(runId, finishedAt, markerTtlMs, Date.now()))) return false;
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
        await notices.releaseNotification(runId, finishedAt).catch(() => undefined);
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

/** POSTs one event to `NOTIFY_WEBHOOK_URL`; never throws, logs only the host on failure. */
async function postNotice(
  url: string | undefined,
  body: Record<string, unknown>,
  logger: Logger,
): Promise<boolean> {
  if (!url) return false;
  try {
    await got.post(url, {
      json: body,
      timeout: { request: 10_000 },
      retry: { limit: 2, methods: ['POST'] },
      headers: { 'user-agent': 'doorflow-provisioner' },
    });
    return true;
  } catch (err) {
    logger.warn(
      { host: safeHost(url), code: (err as { code?: string }).code, event: body.event },
      'notification failed',
    );
    return false;
  }
}

/**
 * The auth-pause alert on the run-finished channel (`NOTIFY_WEBHOOK_URL`): sent by the one process
 * that set the pause, so once per pause. Carries why and since when, never a token. Never throws.
 */
export async function notifyAuthPaused(
  url: string | undefined,
  pause: { since: number; kind: string; upstreamCode: string; reason: string },
  logger: Logger,
): Promise<boolean> {
  return await postNotice(
    url,
    {
      event: 'doorflow.auth_paused',
      since: new Date(pause.since).toISOString(),
      kind: pause.kind,
      upstream_code: pause.upstreamCode,
      reason: pause.reason,
    },
    logger,
  );
}

/**
 * A plan was quarantined (`sync plans`, `/admin/plans`): its id, source, figures and why — no
 * names (the diff stays in Redis). Never throws.
 */
export async function notifyPlanQuarantined(
  url: string | undefined,
  plan: {
    id: string;
    sourceName: string;
    quarantinedAt: number;
    refusals: readonly string[];
    counts: Record<string, number>;
  },
  logger: Logger,
): Promise<boolean> {
  return await postNotice(
    url,
    {
      event: 'sync.plan_quarantined',
      plan_id: plan.id,
      source_name: plan.sourceName,
      quarantined_at: new Date(plan.quarantinedAt).toISOString(),
      refusals: plan.refusals,
      counts: plan.counts,
    },
    logger,
  );
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid url)';
  }
}
