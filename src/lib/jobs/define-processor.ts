import { type Payload, parsePayload, type QueueName } from './registry.ts';

/**
 * Ties a step's handler to its queue: the handler takes the queue's parsed payload type, and the
 * definition knows how to get there from a job's raw data. The worker stores definitions of many
 * queues side by side as {@link JobProcessor}s and never sees a payload type, so nothing is cast.
 * `D` and `C` are what the handler gets besides its payload (the processors' deps and job context).
 */

/** What the worker binds to a queue. */
export interface JobProcessor<D, C> {
  readonly queueName: QueueName;
  /**
   * The job boundary: parses the raw job data with the queue's schema (once; invalid →
   * `PayloadError`, permanent) and runs the handler with it.
   */
  run(data: unknown, deps: D, ctx: C): Promise<unknown>;
}

/** A step bound to queue `Q`; `handle` can be called directly with an already parsed payload. */
export interface ProcessorDefinition<Q extends QueueName, D, C, R> extends JobProcessor<D, C> {
  readonly queueName: Q;
  handle(payload: Payload<Q>, deps: D, ctx: C): Promise<R>;
}

export function defineProcessor<Q extends QueueName, D, C, R>(
  queueName: Q,
  handle: (payload: Payload<Q>, deps: D, ctx: C) => Promise<R>,
): ProcessorDefinition<Q, D, C, R> {
  return {
    queueName,
    handle,
    run: async (data, deps, ctx) => await handle(parsePayload(queueName, data), deps, ctx),
  };
}
