import type { Clock } from '../../lib/core/clock.ts';
import type { Logger } from '../../lib/core/logger.ts';
import { defineProcessor } from '../../lib/jobs/define-processor.ts';
import type { PayloadInput, Queues } from '../../lib/jobs/registry.ts';
import type { LifecycleTimerStore, PoppedTimer } from '../../lib/store/lifecycle-timers.ts';
import type { JobContext, ProcessorDeps } from '../context.ts';
import { TIMER_QUEUES, type TimerQueue } from './schedule.ts';

/**
 * The fleet's one lifecycle scheduler: a BullMQ job scheduler on the `lifecycle-tick` queue (every
 * worker upserts the same one, so one schedule whoever registers it) adds a tick every
 * LIFECYCLE_TICK; whichever worker takes it pops the timers due by the lifecycle clock's now from
 * the index (store/lifecycle-timers.ts) and hands each to its queue as an immediate job under its
 * deterministic id — so the reminder, expiry, status-poll and stuck-check handlers, their retries
 * and dead letters are those of any job. Ticks may overlap (two workers, a slow tick): each timer
 * is popped by one of them only.
 */

/** Timers popped per round trip. */
const BATCH = 500;
/** Rounds per tick at most, so one tick never runs unbounded; the rest waits for the next. */
const MAX_BATCHES = 40;

/** The scheduler's id on the `lifecycle-tick` queue. */
const TICK_SCHEDULER = 'lifecycle-tick';

export interface TimerFiringDeps {
  timers: LifecycleTimerStore;
  queues: Queues;
  clock: Clock;
  logger: Logger;
}

/** Registers (or updates) the fleet's one lifecycle scheduler: a tick every `everyMs`. */
export async function scheduleLifecycleTick(queues: Queues, everyMs: number): Promise<void> {
  await queues
    .get('lifecycle-tick')
    .upsertJobScheduler(
      TICK_SCHEDULER,
      { every: everyMs },
      { name: 'lifecycle-tick', data: {}, opts: { attempts: 1, removeOnComplete: 20, removeOnFail: 20 } },
    );
}

const isTimerQueue = (q: string): q is TimerQueue => (TIMER_QUEUES as readonly string[]).includes(q);

/** Hands popped timers to their queues (one bulk add per queue), then forgets them. */
async function handOver(deps: TimerFiringDeps, popped: readonly PoppedTimer[]): Promise<void> {
  const byQueue = new Map<TimerQueue, PoppedTimer[]>();
  for (const t of popped) {
    if (!isTimerQueue(t.queue)) {
      deps.logger.warn({ timer: t.id, queue: t.queue }, 'lifecycle timer for an unknown queue dropped');
      continue;
    }
    byQueue.set(t.queue, [...(byQueue.get(t.queue) ?? []), t]);
  }
  await Promise.all(
    [...byQueue].map(([queue, list]) =>
      deps.queues.addBulk(
        queue,
        // Built for this queue's schema when scheduled (schedule.ts); the worker parses it again.
        list.map((t) => ({ payload: t.data as PayloadInput<TimerQueue>, opts: { jobId: t.id } })),
      ),
    ),
  );
  await deps.timers.ack(popped);
}

/** Fires every timer due by the lifecycle clock (bounded per call). Returns how many. */
export async function fireDueTimers(deps: TimerFiringDeps): Promise<number> {
  let fired = 0;
  for (let round = 0; round < MAX_BATCHES; round++) {
    const popped = await deps.timers.pop(deps.clock.now(), BATCH);
    if (popped.length > 0) await handOver(deps, popped);
    fired += popped.length;
    if (popped.length < BATCH) break;
  }
  return fired;
}

export const lifecycleTickProcessor = defineProcessor('lifecycle-tick', handle);

async function handle(
  _payload: Record<string, never>,
  deps: ProcessorDeps,
  ctx: JobContext,
): Promise<{ fired: number }> {
  const fired = await fireDueTimers({ ...deps, logger: ctx.logger });
  if (fired > 0) ctx.logger.debug({ fired }, 'lifecycle timers fired');
  return { fired };
}
