import { nodeFor, type RedisConnection } from '../core/redis.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import { luaScript } from '../core/lua.ts';
import type { DeadLetterStore } from './dead-letters.ts';
import type { RedisKeys } from './keys.ts';
import type { RunRecord, RunStore } from './runs.ts';

/**
 * Removing expired runs: a finished run whose finish is older than the retention goes with every
 * key of it (`keys.runKeys`: statuses, details, people's names, sync counters, finish marks), its
 * member of the `runs` index and its dead letters. A live run (intake open or entries pending) is
 * never touched, whatever its age. A run that still has dead letters is kept until they expire too
 * (DLQ_RETENTION), so a dead letter stays replayable for as long as it is kept.
 *
 * Big runs do not block Redis: the keys go by UNLINK (Redis frees a 1M-field hash in a background
 * thread), candidates are read from the index a page at a time.
 */

/** What one purge removed (or, dry, would remove). */
export interface RunPurgeSummary {
  /** Runs removed (or to remove). */
  runs: number;
  /** Their entries (fields of `run:{id}:status`). */
  entries: number;
  /** Redis keys removed (index members and dead letters not counted). */
  keys: number;
  /** What those keys used, from MEMORY USAGE (sampled for big hashes). */
  bytes: number;
  /** Dead letters of the removed runs, removed with them. */
  deadLetters: number;
  /** Old enough but live (intake open or entries pending): kept. */
  keptLive: number;
  /** Old enough but holding dead letters younger than DLQ_RETENTION: kept. */
  keptForDeadLetters: number;
  runIds: string[];
  dryRun: boolean;
}

export interface RunPurgeOptions {
  /** Runs finished longer ago than this go (RUN_RETENTION or `--older-than`). */
  olderThanMs: number;
  /** A run with dead letters is kept until its finish is older than this too (DLQ_RETENTION). */
  deadLetterRetentionMs: number;
  /** Count only; remove nothing. */
  dryRun?: boolean;
}

// The removal in one step: nothing of the run is gone unless all of it goes, and a run that was
// reopened since it was read (a dead-letter replay) is left alone. An orphan index member (a run
// hash already gone) is cleared too.
const REMOVE_RUN = luaScript(`
local finished = redis.call('HGET', KEYS[1], 'finishedAt')
if redis.call('EXISTS', KEYS[1]) == 1 and finished ~= ARGV[2] then return 0 end
for i = 3, #KEYS do redis.call('UNLINK', KEYS[i]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`);

const PAGE = 200;

/** When a run may go: its finish, or undefined while it is live. */
function settledAt(run: RunRecord): number | undefined {
  return run.intake === 'closed' ? run.finishedAt : undefined;
}

export class RunPurger {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
    private readonly runs: RunStore,
    private readonly deadLetters: DeadLetterStore,
    private readonly clock: Clock = systemClock,
  ) {}

  async purge(options: RunPurgeOptions): Promise<RunPurgeSummary> {
    const now = this.clock.now();
    const cutoff = now - options.olderThanMs;
    const deadCutoff = now - Math.max(options.olderThanMs, options.deadLetterRetentionMs);
    const dryRun = options.dryRun === true;
    const summary: RunPurgeSummary = {
      runs: 0,
      entries: 0,
      keys: 0,
      bytes: 0,
      deadLetters: 0,
      keptLive: 0,
      keptForDeadLetters: 0,
      runIds: [],
      dryRun,
    };
    // Every run finished before the cutoff was created before it: page through those by start
    // time. Kept ones stay in the range, so the offset moves past them; removed ones leave it.
    let offset = 0;
    for (;;) {
      const ids = await this.redis.zrangebyscore(this.keys.runs, '-inf', cutoff, 'LIMIT', offset, PAGE);
      if (ids.length === 0) break;
      let kept = 0;
      for (const id of ids) {
        if (await this.#consider(id, cutoff, deadCutoff, summary)) continue;
        kept++;
      }
      // A dry run removes nothing: every id stays in the range.
      offset += dryRun ? ids.length : kept;
      if (ids.length < PAGE) break;
    }
    if (summary.runIds.length > 0) {
      summary.deadLetters = await this.deadLetters.purge({ runIds: new Set(summary.runIds) }, { dryRun });
    }
    return summary;
  }

  /** Removes run `id` when it is expired; true when it went (or would go, dry). */
  async #consider(
    id: string,
    cutoff: number,
    deadCutoff: number,
    summary: RunPurgeSummary,
  ): Promise<boolean> {
    const run = await this.runs.get(id);
    const finishedAt = run ? settledAt(run) : undefined;
    if (run && finishedAt === undefined) {
      summary.keptLive++;
      return false;
    }
    if (run && finishedAt !== undefined && finishedAt > cutoff) return false;
    if (run && finishedAt !== undefined && run.dead > 0 && finishedAt > deadCutoff) {
      summary.keptForDeadLetters++;
      return false;
    }
    const keys = this.keys.runKeys(id, finishedAt);
    const [entries, existing, bytes] = await Promise.all([
      this.redis.hlen(this.keys.runStatus(id)),
      this.redis.exists(...keys),
      this.#bytes(keys),
    ]);
    if (!summary.dryRun) {
      const removed = await REMOVE_RUN.run(
        this.redis,
        [this.keys.run(id), this.keys.runs, ...keys],
        [id, finishedAt === undefined ? '' : String(finishedAt)],
      );
      if (Number(removed) !== 1) return false;
    }
    summary.runs++;
    summary.entries += entries;
    summary.keys += existing;
    summary.bytes += bytes;
    summary.runIds.push(id);
    return true;
  }

  async #bytes(keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    // MEMORY USAGE names its key after a sub-command, which a cluster client cannot route: ask the
    // master of the run's slot (every key of the prefix shares it) directly.
    const node = await nodeFor(this.redis, keys[0] ?? '');
    const sizes = await Promise.all(keys.map((key) => node.memory('USAGE', key)));
    return sizes.reduce<number>((sum, n) => sum + (typeof n === 'number' ? n : 0), 0);
  }
}
