import type { Got } from 'got';
import type { Redis } from 'ioredis';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';

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
  redis: Redis;
  prefix: string;
  logger: Logger;
  clock: Clock;
  /** Outbound HTTP with retries off. */
  http: Got;
  alertWebhookUrl: string | undefined;
}

export const alertCountsKey = (prefix: string) => `${prefix}:alerts:count`;
const sentKey = (prefix: string, kind: string, dedupeKey: string) =>
  `${prefix}:alerts:sent:${kind}:${dedupeKey}`;

/** Raises an alert; false when this occurrence was already raised. Never throws for the webhook. */
export async function raiseAlert(deps: AlertDeps, alert: Alert): Promise<boolean> {
  const fresh = await deps.redis.set(
    sentKey(deps.prefix, alert.kind, alert.dedupeKey),
    '1',
    'EX',
    30 * 86_400,
    'NX',
  );
  if (fresh !== 'OK') return false;
  await deps.redis.hincrby(alertCountsKey(deps.prefix), alert.kind, 1);
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
  return true;
}

/** Alerts raised so far, fleet-wide, by kind (a counter: only ever grows). */
export async function alertCounts(redis: Redis, prefix: string): Promise<Record<string, number>> {
  const raw = await redis.hgetall(alertCountsKey(prefix));
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
}
