import type { Config } from '../lib/core/config.ts';
import type { DoorFlowApi } from '../lib/doorflow/types.ts';
import type { Logger } from '../lib/core/logger.ts';
import type { PeopleIndex } from '../lib/store/people-index.ts';
import type { PayloadInput, Queues } from '../lib/jobs/registry.ts';
import { stepJobId } from '../lib/jobs/registry.ts';
import type { DeliveryChannelName } from '../lib/delivery/channel-names.ts';
import { pickDeliveryChannel, type RosterEntry, rosterEntrySchema, rosterKey } from '../lib/roster/entry.ts';
import type { RunStore } from '../lib/store/runs.ts';
import { waitForWindow } from './backpressure.ts';

/**
 * Intake: the one way roster entries enter the pipeline. Starts a run (prefetching the account's
 * people into the index once), validates each entry, drops duplicate keys within the run, and adds
 * person jobs in batches with deterministic ids (`<run>--<key>`), so feeding the same entries twice
 * adds nothing twice. (The producers area adds windowed backpressure on top.)
 */

export interface IntakeDeps {
  config: Config;
  queues: Queues;
  runs: RunStore;
  people: PeopleIndex;
  /** Used for the people prefetch; without it processors look people up one by one. */
  doorflow?: DoorFlowApi;
  logger: Logger;
}

export interface RunHandle {
  runId: string;
  delivery: DeliveryChannelName;
  /** Channels to fall back to, in order, when an entry lacks what its channel needs. */
  fallback?: readonly DeliveryChannelName[];
  /** The people index was rebuilt for this run. */
  indexed: boolean;
}

export interface StartRunOptions {
  source: string;
  delivery: DeliveryChannelName;
  /** Channels to fall back to, in order (`DELIVERY_FALLBACK` / `--fallback`). */
  fallback?: readonly DeliveryChannelName[];
  /** Rebuild the people index before enqueueing (default: when a DoorFlow client is given). */
  prefetch?: boolean;
  signal?: AbortSignal;
  /** Backpressure window (entries); unbounded when unset. */
  window?: number;
}

export interface RejectedEntry {
  key: string;
  line: number | undefined;
  code: string;
  message: string;
}

export interface IntakeResult {
  accepted: number;
  duplicates: number;
  rejected: RejectedEntry[];
}

export async function startRun(deps: IntakeDeps, options: StartRunOptions): Promise<RunHandle> {
  const runId = await deps.runs.create({ source: options.source, delivery: options.delivery });
  let indexed = false;
  if (deps.doorflow && options.prefetch !== false) {
    const count = await deps.people.prefetch(deps.doorflow, options.signal);
    await deps.runs.setMeta(runId, { indexedAt: Date.now(), indexedPeople: count });
    indexed = true;
    deps.logger.info({ runId, people: count }, 'people index rebuilt for the run');
  }
  return {
    runId,
    delivery: options.delivery,
    indexed,
    ...(options.fallback && options.fallback.length > 0 ? { fallback: options.fallback } : {}),
  };
}

/** Why an entry cannot go through its delivery channel, or undefined when it can. */
export function channelProblem(entry: RosterEntry, channel: DeliveryChannelName): RejectedEntry | undefined {
  const base = { key: entry.key, line: entry.line };
  if ((channel === 'doorflow' || channel === 'email') && !entry.email) {
    return { ...base, code: 'email_required', message: `delivery ${channel} needs an email address` };
  }
  if (channel === 'sms' && !entry.mobile) {
    return { ...base, code: 'mobile_required', message: 'delivery sms needs a mobile number' };
  }
  return undefined;
}

/** Validates a raw entry (filling `key` when absent). */
export function validateEntry(
  raw: unknown,
  index: number,
): { entry: RosterEntry } | { rejected: RejectedEntry } {
  const obj = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const line = typeof obj.line === 'number' ? obj.line : undefined;
  const key =
    typeof obj.key === 'string' && obj.key
      ? obj.key
      : rosterKey({
          system_id: typeof obj.system_id === 'string' ? obj.system_id : undefined,
          email: typeof obj.email === 'string' ? obj.email : undefined,
        });
  const fallbackKey = `line:${line ?? index + 1}`;
  if (!key) {
    return {
      rejected: { key: fallbackKey, line, code: 'key_missing', message: 'neither system_id nor email' },
    };
  }
  const parsed = rosterEntrySchema.safeParse({ ...obj, key });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const message = `${issue?.path.join('.') || 'entry'}: ${issue?.message ?? 'invalid'}`;
    return { rejected: { key, line, code: 'invalid_entry', message } };
  }
  return { entry: parsed.data };
}

/** Validates, dedupes and enqueues entries for a run, in batches of `batchSize` (default 200). */
export async function enqueueEntries(
  deps: IntakeDeps,
  run: RunHandle,
  entries: Iterable<unknown> | AsyncIterable<unknown>,
  options: {
    batchSize?: number;
    /** At most this many unsettled entries of the run in Redis at once (backpressure). */
    window?: number;
    signal?: AbortSignal | undefined;
    /** Called after each batch is enqueued (progress). */
    onBatch?: (accepted: number) => void;
  } = {},
): Promise<IntakeResult> {
  const batchSize = Math.min(options.batchSize ?? 200, options.window ?? Number.POSITIVE_INFINITY);
  const result: IntakeResult = { accepted: 0, duplicates: 0, rejected: [] };
  let batch: { payload: PayloadInput<'person'>; opts: { jobId: string } }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    // The batch is already registered in the run, so "outstanding ≤ window" bounds what is in Redis.
    if (options.window !== undefined) {
      await waitForWindow(deps.runs, run.runId, options.window, { signal: options.signal });
    }
    await deps.runs.setNames(
      run.runId,
      Object.fromEntries(
        batch.map((j) => [j.payload.key, `${j.payload.entry.first_name} ${j.payload.entry.last_name}`]),
      ),
    );
    await deps.queues.addBulk('person', batch);
    batch = [];
    options.onBatch?.(result.accepted);
  };
  // Valid entries are registered in the run a chunk at a time: ioredis pipelines the concurrent
  // script calls (one round trip per chunk instead of per entry), and Redis runs them in order, so
  // a key repeated within a chunk is still added once.
  let pending: { entry: RosterEntry; channel: DeliveryChannelName }[] = [];
  const register = async () => {
    if (pending.length === 0) return;
    const chunk = pending;
    pending = [];
    const added = await Promise.all(
      chunk.map(({ entry }) =>
        deps.runs.addEntry(run.runId, entry.key, 'person', entry.line ? { line: entry.line } : {}),
      ),
    );
    for (const [i, { entry, channel }] of chunk.entries()) {
      if (!added[i]) {
        result.duplicates++;
        continue;
      }
      result.accepted++;
      batch.push({
        payload: { runId: run.runId, key: entry.key, gen: 0, delivery: channel, entry, indexed: run.indexed },
        opts: { jobId: stepJobId(run.runId, entry.key) },
      });
    }
    if (batch.length >= batchSize) await flush();
  };
  let index = 0;
  for await (const raw of entries) {
    const checked = validateEntry(raw, index++);
    if ('rejected' in checked) {
      await reject(deps, run, checked.rejected, result, raw);
      continue;
    }
    const entry = checked.entry;
    const channel = pickDeliveryChannel(entry.delivery ?? run.delivery, run.fallback ?? [], {
      email: entry.email !== undefined,
      mobile: entry.mobile !== undefined,
    });
    const problem = channelProblem(entry, channel);
    if (problem) {
      await reject(deps, run, problem, result, entry);
      continue;
    }
    pending.push({ entry, channel });
    // Registered-but-unqueued entries never exceed one batch (≤ window), or the window wait could
    // never be satisfied.
    if (pending.length + batch.length >= batchSize) await register();
  }
  await register();
  await flush();
  return result;
}

async function reject(
  deps: IntakeDeps,
  run: RunHandle,
  rejected: RejectedEntry,
  result: IntakeResult,
  raw: unknown,
) {
  const added = await deps.runs.addEntry(run.runId, rejected.key, 'invalid', {
    code: rejected.code,
    message: rejected.message,
    ...(rejected.line ? { line: rejected.line } : {}),
  });
  if (added) result.rejected.push(rejected);
  else result.duplicates++;
  // The report names refused rows too, so whoever fixes the roster knows whom it concerns.
  const { first_name, last_name } = (raw ?? {}) as { first_name?: unknown; last_name?: unknown };
  const name = [first_name, last_name].filter((p) => typeof p === 'string' && p.trim() !== '').join(' ');
  if (added && name) await deps.runs.setNames(run.runId, { [rejected.key]: name });
}

/** No more entries: the run can finish once every entry is done or dead. */
export async function closeRun(deps: IntakeDeps, runId: string): Promise<void> {
  await deps.runs.closeIntake(runId);
}

/** Start a run, enqueue everything, close it. */
export async function intake(
  deps: IntakeDeps,
  options: StartRunOptions,
  entries: Iterable<unknown> | AsyncIterable<unknown>,
): Promise<RunHandle & IntakeResult> {
  const run = await startRun(deps, options);
  const result = await enqueueEntries(deps, run, entries, {
    ...(options.window !== undefined ? { window: options.window } : {}),
    signal: options.signal,
  });
  await closeRun(deps, run.runId);
  deps.logger.info({ runId: run.runId, ...result, rejected: result.rejected.length }, 'intake finished');
  return { ...run, ...result };
}
