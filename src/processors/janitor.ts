import { defineProcessor } from '../lib/jobs/define-processor.ts';
import type { Queues } from '../lib/jobs/registry.ts';
import { enforceRetention, removedAnything, retentionFigures } from '../lib/ops/retention.ts';
import type { JobContext, ProcessorDeps } from './context.ts';

/**
 * The janitor: keeps Redis bounded for ever by enforcing every retention (RUN_RETENTION,
 * DLQ_RETENTION, REVOKED_RETENTION, AUDIT_RETENTION; lib/ops/retention.ts) on the `janitor` queue.
 * Every `worker` registers the one job scheduler ({@link scheduleJanitor}: same id, so one
 * schedule whichever worker registers it) and binds this processor, so any worker may run a tick.
 * A tick logs one info line with what it removed and, when it removed anything, one audit record.
 */

export const janitorProcessor = defineProcessor('janitor', handle);

/** The scheduler's id on the `janitor` queue. */
const JANITOR_SCHEDULER = 'janitor';

/** Registers (or updates) the fleet's one janitor schedule: a tick every `everyMs`, the first at once. */
export async function scheduleJanitor(queues: Queues, everyMs: number): Promise<void> {
  await queues
    .get('janitor')
    .upsertJobScheduler(
      JANITOR_SCHEDULER,
      { every: everyMs },
      { name: 'janitor', data: {}, opts: { attempts: 1, removeOnComplete: 20, removeOnFail: 20 } },
    );
}

async function handle(
  _payload: Record<string, never>,
  deps: ProcessorDeps,
  ctx: JobContext,
): Promise<Record<string, number>> {
  const summary = await enforceRetention(
    {
      redis: deps.redis,
      stores: {
        keys: deps.keys,
        runs: deps.runs,
        deadLetters: deps.deadLetters,
        credentials: deps.credentials,
        audit: deps.audit,
        syncPlans: deps.syncPlans,
      },
      clock: deps.clock,
    },
    deps.config.retention,
  );
  const figures = retentionFigures(summary);
  ctx.logger.info(figures, 'janitor: expired records removed');
  if (removedAnything(summary)) {
    await deps.audit?.record({
      actor: 'janitor',
      action: 'retention.purge',
      targetType: 'retention',
      targetId: summary.runs.runIds.length > 0 ? summary.runs.runIds.join(',').slice(0, 2000) : '-',
      after: figures,
    });
  }
  return figures;
}
