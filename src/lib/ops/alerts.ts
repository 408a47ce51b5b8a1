import type { Got } from 'got';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { AlertStore } from '../store/alerts.ts';

/**
 * Operational alerts (stuck provisioning, expired invitations, reissue limit): a warn log, a
 * fleet-wide counter in Redis (`alerts:count` hash, kind → n; the ops metrics read it), and an
 * optional POST to `ALERT_WEBHOOK_URL`. Each alert is raised once per `dedupeKey`, so a retried
 * job or a second worker does not page twice. Alerts carry ids and statuses, never codes.
 */

export type AlertKind = 'stuck_provisioning' | 'invitation_expired' | 'reissue_limit' | (string & {});

export interface Alert {
  kind: AlertKind;
  /** Identifies this occurrence (e.g. credential id + since). */
  dedupeKey: string;
  message: string;
  credentialId?: string;
  personId?: number;
  details?: Record<string, string | number | boolean | null>;
}

export interface AlertDeps {
  /** Dedupe marks and counters. */
  alerts: AlertStore;
  logger: Logger;
  clock: Clock;
  /** Outbound HTTP with retries off. */
  http: Got;
  alertWebhookUrl: string | undefined;
}

/** Raises an alert; false when this occurrence was already raised. Never throws for the webhook. */
export async function raiseAlert(deps: AlertDeps, alert: Alert): Promise<boolean> {
  if (!(await deps.alerts.markSent(alert.kind, alert.dedupeKey))) return false;
  const fields = {
    alert: alert.kind,
    credentialId: alert.credentialId,
    personId: alert.personId,
    ...alert.details,
  };
  deps.logger.warn(fields, alert.message);
  if (deps.alertWebhookUrl) {
    try {
      const response = await deps.http.post(deps.alertWebhookUrl, {
        json: { ...fields, message: alert.message, at: new Date(deps.clock.now()).toISOString() },
        throwHttpErrors: false,
        retry: { limit: 0 },
        timeout: { request: 10_000 },
      });
      if (response.statusCode >= 300) {
        deps.logger.warn(
          { alert: alert.kind, status: response.statusCode },
          'alert webhook refused the alert',
        );
      }
    } catch (err) {
      deps.logger.warn({ alert: alert.kind, err }, 'alert webhook unreachable');
    }
  }
  // Counted once announced, so whoever sees the counter move (metrics, tests) sees the alert sent.
  await deps.alerts.increment(alert.kind);
  return true;
}
