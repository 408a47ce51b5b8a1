import type { RedisConnection } from '../core/redis.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import { luaScript } from '../core/lua.ts';
import { PIPELINE_QUEUES } from '../jobs/pipeline-queues.ts';

/** A step of the provisioning chain: an entry status that is also the queue its job waits in. */
export type PipelineStep = (typeof PIPELINE_QUEUES)[number];
import type { RedisKeys } from './keys.ts';

/**
 * The cancel mark of a run (`runs cancel`): `cancelledAt` and `cancelledBy` in the run's hash,
 * set once by one script that also closes intake, so the run can finish as soon as its last
 * entry settles. Kept apart from the transition script in runs.ts: that script only has to know
 * that `cancelled` is a terminal outcome.
 */

/** What marking a run did. */
export type CancelMark = 'marked' | 'already_cancelled' | 'already_finished' | 'no_run';
const MARKS: readonly CancelMark[] = ['marked', 'already_cancelled', 'already_finished', 'no_run'];

const MARK = luaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 'no_run' end
local h = redis.call('HMGET', KEYS[1], 'cancelledAt', 'finishedAt')
if h[1] then return 'already_cancelled' end
if h[2] then return 'already_finished' end
redis.call('HSET', KEYS[1], 'cancelledAt', ARGV[1], 'cancelledBy', ARGV[2], 'intake', 'closed')
return 'marked'
`);

/** Entry statuses a queued or running step can still be at (the pipeline's queue names). */
const STEP_STATUSES: ReadonlySet<string> = new Set(PIPELINE_QUEUES);
const isStep = (status: string): status is PipelineStep => STEP_STATUSES.has(status);

export class RunCancelStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Marks the run cancelled (once) and closes its intake. */
  async mark(runId: string, operator: string): Promise<CancelMark> {
    const result = await MARK.run(this.redis, [this.keys.run(runId)], [this.clock.now(), operator]);
    const mark = MARKS.find((m) => m === result);
    if (!mark) throw new Error(`unexpected cancel mark reply: ${String(result)}`);
    return mark;
  }

  /** One field read per job: cheap enough for the start of every pipeline step. */
  async isCancelled(runId: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys.run(runId), 'cancelledAt')) === 1;
  }

  /**
   * The run's entries still at a step, a page at a time (HSCAN): a million-entry run is never
   * read in one reply.
   */
  async *entriesAtSteps(
    runId: string,
    pageSize = 1_000,
  ): AsyncGenerator<{ key: string; step: PipelineStep }[]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.runStatus(runId), cursor, 'COUNT', pageSize);
      cursor = next;
      const page: { key: string; step: PipelineStep }[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const key = flat[i] ?? '';
        const step = flat[i + 1] ?? '';
        if (isStep(step)) page.push({ key, step });
      }
      if (page.length > 0) yield page;
    } while (cursor !== '0');
  }
}
