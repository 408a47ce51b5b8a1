import type { Metrics } from '../../lib/core/metrics.ts';
import type { QueueName } from '../../lib/jobs/registry.ts';

/**
 * The metrics hook around a step: job outcome and duration per queue, and for the delivery queues
 * the delivery outcome per channel (the step's result, e.g. `provisioned`, or `failed`/`retrying`).
 */

const DELIVERY_PREFIX = 'delivery-';

function channelOf(queue: QueueName): string | undefined {
  return queue.startsWith(DELIVERY_PREFIX) ? queue.slice(DELIVERY_PREFIX.length) : undefined;
}

export function recordCompleted(
  metrics: Metrics | undefined,
  queue: QueueName,
  durationMs: number,
  result: unknown,
): void {
  metrics?.job(queue, 'completed', durationMs);
  const channel = channelOf(queue);
  if (channel) metrics?.delivery(channel, typeof result === 'string' ? result : 'completed');
}

export function recordFailed(
  metrics: Metrics | undefined,
  queue: QueueName,
  durationMs: number,
  failure: { code: string; final: boolean },
): void {
  metrics?.job(queue, 'failed', durationMs, failure.code);
  const channel = channelOf(queue);
  if (channel) metrics?.delivery(channel, failure.final ? 'failed' : 'retrying');
}
