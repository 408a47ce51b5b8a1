import type { Config } from '../lib/core/config.ts';
import type { DoorFlowApi } from '../lib/doorflow/types.ts';
import type { Logger } from '../lib/core/logger.ts';
import { errorCode } from '../lib/core/errors.ts';
import type { DirectoryProbe, PeopleIndex } from '../lib/store/people-index.ts';
import { doorflowGetsEmail } from '../lib/roster/email-policy.ts';
import type { Queues } from '../lib/jobs/registry.ts';
import { stepJobId } from '../lib/jobs/registry.ts';
import { addEntryJobs } from './entry-jobs.ts';
import type { DeliveryChannelName } from '../lib/delivery/channel-names.ts';
import type { RunStore } from '../lib/store/runs.ts';
import { waitForWindow } from './backpressure.ts';
import { isDuplicateProblem } from './row-errors.ts';
import { isRowProblem, type RowProblem, type SourceEntry, type SourceItem } from './sources/adapter.ts';
import { type RejectedEntry, validateEntry } from './validate-row.ts';

/**
 * Intake: the one way roster entries enter a run. Starts a run (listing the account's people into
 * the index when that costs fewer DoorFlow calls than looking the entries up), records refused rows in it, drops duplicate keys within the run, and adds
 * person jobs in batches with deterministic ids (`<run>--<key>`), so feeding the same entries twice
 * adds nothing twice; a backpressure window bounds what waits in Redis.
 *
 * Every entry is validated exactly once before it gets here or on the way in: a source's items
 * ({@link enqueueItems}) went through the row validator as it read them; plain objects
 * ({@link enqueueEntries}) go through it here. The validator also decided the delivery channel.
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
  /** The people index was rebuilt for this run (set by the first enqueue when `probe` is). */
  indexed: boolean;
  /**
   * The directory's first page, while it is still open whether listing the rest is cheaper than
   * looking the run's entries up: the first {@link enqueueItems} call decides, and clears it.
   */
  probe?: DirectoryProbe;
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

export interface IntakeResult {
  accepted: number;
  duplicates: number;
  rejected: RejectedEntry[];
}

export async function startRun(deps: IntakeDeps, options: StartRunOptions): Promise<RunHandle> {
  const runId = await deps.runs.create({ source: options.source, delivery: options.delivery });
  const handle: RunHandle = {
    runId,
    delivery: options.delivery,
    indexed: false,
    ...(options.fallback && options.fallback.length > 0 ? { fallback: options.fallback } : {}),
  };
  const doorflow = deps.doorflow;
  if (doorflow && options.prefetch !== false) {
    await unlessAuthPaused(deps, runId, async () => {
      const probe = await deps.people.probe(doorflow, options.signal);
      // A one-page directory is already indexed by its first page; without a `Total` the cost of
      // the rest is unknown, so it is listed as before. Otherwise the entries decide (admit).
      if (probe.complete || probe.total === undefined) {
        await buildIndex(deps, handle, doorflow, probe, options.signal);
      } else handle.probe = probe;
    });
  }
  return handle;
}

/** Runs `fn` (DoorFlow calls); a fleet-wide auth pause leaves the run without the index. */
async function unlessAuthPaused(deps: IntakeDeps, runId: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    // DoorFlow access is paused fleet-wide: the run is still queued, and each person step looks
    // DoorFlow up itself once access is back.
    if (errorCode(err) !== 'auth_paused') throw err;
    deps.logger.warn({ runId }, 'DoorFlow access is paused: queued without the people index');
  }
}

async function buildIndex(
  deps: IntakeDeps,
  run: RunHandle,
  doorflow: DoorFlowApi,
  probe: DirectoryProbe,
  signal: AbortSignal | undefined,
): Promise<void> {
  const count = await deps.people.prefetch(doorflow, signal, probe);
  await deps.runs.setMeta(run.runId, { indexedAt: Date.now(), indexedPeople: count });
  run.indexed = true;
  deps.logger.info({ runId: run.runId, people: count }, 'people index rebuilt for the run');
}

/**
 * Lookup calls the person step makes for a new entry without the index: one by `system_id`, and one
 * by email only when DoorFlow is not given the email (when it is, DoorFlow's unique email makes the
 * create's 422 the lookup: processors/person.ts).
 */
function lookupCalls(deps: IntakeDeps, run: RunHandle, item: SourceEntry): number {
  const channel = item.delivery ?? run.delivery;
  const emailLookup = item.email !== undefined && !doorflowGetsEmail(deps.config.doorflow.sendEmail, channel);
  return emailLookup ? 2 : 1;
}

/**
 * Decides whether the run lists the directory (see {@link startRun}): reads entries ahead until
 * looking them up one by one would cost more calls than listing the rest of the directory, then
 * lists it; a source that ends first runs without the index. Entries are held back (at most one per
 * page still to list, since each costs at least one lookup) until the decision, so every person
 * job carries it; refused rows pass straight on.
 */
async function* decideIndex(
  deps: IntakeDeps,
  run: RunHandle,
  items: Iterable<Admission> | AsyncIterable<Admission>,
  signal: AbortSignal | undefined,
): AsyncGenerator<Admission> {
  const probe = run.probe;
  const doorflow = deps.doorflow;
  if (!probe || !doorflow) {
    yield* items;
    return;
  }
  delete run.probe;
  const ahead: SourceEntry[] = [];
  let lookups = 0;
  let decided = false;
  for await (const item of items) {
    if (decided || isRefusal(item) || isRowProblem(item)) {
      yield item;
      continue;
    }
    ahead.push(item);
    lookups += lookupCalls(deps, run, item);
    if (lookups <= probe.remainingPages) continue;
    decided = true;
    await unlessAuthPaused(deps, run.runId, () => buildIndex(deps, run, doorflow, probe, signal));
    yield* ahead.splice(0);
  }
  if (!decided) {
    deps.logger.info(
      { runId: run.runId, entries: ahead.length, lookups, listCalls: probe.remainingPages },
      'people looked up one by one: fewer calls than listing the directory',
    );
  }
  yield* ahead;
}

export interface EnqueueOptions {
  /** Entries registered (and their jobs added) per slice (default 1,000, at most `window`). */
  batchSize?: number;
  /** At most this many unsettled entries of the run in Redis at once (backpressure). */
  window?: number;
  signal?: AbortSignal | undefined;
  /** Called after each slice is enqueued (progress). */
  onBatch?: (accepted: number) => void;
  /**
   * Called for each refused entry instead of collecting it in `rejected` (a file with a million
   * bad rows must not hold them all in memory).
   */
  onRejected?: (rejected: RejectedEntry) => void;
}

/** An entry registered in its run, with the channel it goes out on: what its job is made of. */
interface RegisteredEntry {
  readonly entry: SourceEntry;
  readonly channel: DeliveryChannelName;
}

/**
 * Adds the jobs for a slice of entries just registered in the run: one `person` job each, with a
 * deterministic id (`<run>--<key>`), all in one `addBulk` (one MULTI, one round trip). The only
 * place intake turns entries into jobs, so the job form can change here alone.
 */
async function addSliceJobs(
  deps: Pick<IntakeDeps, 'queues' | 'config'>,
  run: RunHandle,
  slice: readonly RegisteredEntry[],
): Promise<void> {
  await addEntryJobs(
    deps.queues,
    deps.config.jobs.batchSize,
    slice.map(({ entry, channel }) => ({
      payload: { runId: run.runId, key: entry.key, gen: 0, delivery: channel, entry, indexed: run.indexed },
      opts: { jobId: stepJobId(run.runId, entry.key) },
    })),
  );
}

/** An entry the row validator refused on the way in, with the name to show in the run's report. */
interface Refusal {
  readonly kind: 'refused';
  readonly rejected: RejectedEntry;
  readonly name: string;
}

type Admission = SourceEntry | RowProblem | Refusal;

/**
 * Enqueues what a source yielded: entries (validated by the row validator for this run's channel:
 * `fallbackDelivery` = `run.delivery`, `fallbackOrder` = `run.fallback`) and the rows it refused,
 * which are recorded in the run as `invalid_entry` (in-source duplicates are only counted).
 */
export function enqueueItems(
  deps: IntakeDeps,
  run: RunHandle,
  items: Iterable<SourceItem> | AsyncIterable<SourceItem>,
  options: EnqueueOptions = {},
): Promise<IntakeResult> {
  return admit(deps, run, items, options);
}

/** Validates plain entry objects with the row validator, then enqueues them like a source's items. */
function enqueueEntries(
  deps: IntakeDeps,
  run: RunHandle,
  entries: Iterable<unknown> | AsyncIterable<unknown>,
  options: EnqueueOptions = {},
): Promise<IntakeResult> {
  return admit(deps, run, validated(entries, run), options);
}

async function* validated(
  entries: Iterable<unknown> | AsyncIterable<unknown>,
  run: RunHandle,
): AsyncGenerator<SourceEntry | Refusal> {
  const rules = { fallbackDelivery: run.delivery, ...(run.fallback ? { fallbackOrder: run.fallback } : {}) };
  let index = 0;
  for await (const raw of entries) {
    const checked = validateEntry(raw, index++, rules);
    if ('entry' in checked) yield checked.entry;
    else yield { kind: 'refused', rejected: checked.rejected, name: nameOf(raw) };
  }
}

/** "First Last" from whatever names a refused object carries, for the run's report. */
function nameOf(raw: unknown): string {
  const { first_name, last_name } = (raw ?? {}) as { first_name?: unknown; last_name?: unknown };
  return [first_name, last_name]
    .flatMap((part) => (typeof part === 'string' && part.trim() !== '' ? [part.trim()] : []))
    .join(' ');
}

/**
 * Dedupes and enqueues entries for a run a slice at a time; records refusals. A slice is
 * registered in one script call (entries, names, outcome index, counters), then its jobs are added
 * in one `addBulk`; while Redis takes one slice the source reads the next, so at most two slices
 * are held in memory and no row waits on a round trip of its own.
 */
async function admit(
  deps: IntakeDeps,
  run: RunHandle,
  items: Iterable<Admission> | AsyncIterable<Admission>,
  options: EnqueueOptions,
): Promise<IntakeResult> {
  const sliceSize = Math.min(options.batchSize ?? 1000, options.window ?? Number.POSITIVE_INFINITY);
  const result: IntakeResult = { accepted: 0, duplicates: 0, rejected: [] };
  // A slice registers once the slice before is past its window wait (so at most one slice beyond
  // the window is ever registered), and adds its jobs after the slice before added its own (roster
  // order); meanwhile the source reads the next.
  const send = async (chunk: RegisteredEntry[], before: Slice, cleared: () => void) => {
    await before.cleared;
    const { added, outstanding } = await deps.runs.addEntries(
      run.runId,
      'person',
      chunk.map(({ entry }) => ({
        key: entry.key,
        line: entry.line,
        name: `${entry.first_name} ${entry.last_name}`,
      })),
    );
    // A key already in the run (fed twice) is counted and left alone: its job exists or existed.
    const fresh = chunk.filter((_, i) => added[i]);
    result.duplicates += chunk.length - fresh.length;
    result.accepted += fresh.length;
    // The slice is already registered, so "outstanding ≤ window" bounds the jobs in Redis.
    if (fresh.length > 0 && options.window !== undefined && outstanding > options.window) {
      await waitForWindow(deps.runs, run.runId, options.window, { signal: options.signal });
    }
    cleared();
    await before.done;
    if (fresh.length === 0) return;
    await addSliceJobs(deps, run, fresh);
    options.onBatch?.(result.accepted);
  };
  interface Slice {
    /** Registered and within the window (or failed). */
    cleared: Promise<void>;
    /** Its jobs are added. */
    done: Promise<void>;
  }
  let slice: RegisteredEntry[] = [];
  // Two slices in flight at most: `last` is the newest, `older` the one before it.
  let last: Slice = { cleared: Promise.resolve(), done: Promise.resolve() };
  let older: Promise<void> = Promise.resolve();
  const flush = async () => {
    if (slice.length === 0) return;
    const chunk = slice;
    slice = [];
    await older;
    let cleared = () => {};
    let failed = (_: unknown) => {};
    const gate = new Promise<void>((resolve, reject) => {
      cleared = resolve;
      failed = reject;
    });
    const done = send(chunk, last, cleared);
    // A failed slice fails its gate (a no-op once cleared): the next one registers nothing.
    done.then(undefined, failed);
    // Awaited by the next slice or at the end; until then a failure must not count as unhandled.
    gate.catch(() => undefined);
    done.catch(() => undefined);
    older = last.done;
    last = { cleared: gate, done };
  };
  const refuse = async (rejected: RejectedEntry, name: string) => {
    const added = await deps.runs.addEntry(run.runId, rejected.key, 'invalid', {
      code: rejected.code,
      message: rejected.message,
      ...(rejected.line ? { line: rejected.line } : {}),
    });
    if (!added) {
      result.duplicates++;
      return;
    }
    if (options.onRejected) options.onRejected(rejected);
    else result.rejected.push(rejected);
    // The report names refused rows too, so whoever fixes the roster knows whom it concerns.
    if (name) await deps.runs.setNames(run.runId, { [rejected.key]: name });
  };
  try {
    for await (const item of decideIndex(deps, run, items, options.signal)) {
      if (isRefusal(item)) {
        await refuse(item.rejected, item.name);
        continue;
      }
      if (isRowProblem(item)) {
        if (isDuplicateProblem(item)) result.duplicates++;
        else await refuse(problemRejection(item), '');
        continue;
      }
      slice.push({ entry: item, channel: item.delivery ?? run.delivery });
      if (slice.length >= sliceSize) await flush();
    }
    await flush();
  } catch (err) {
    // The slices under way finish (or fail) before the error goes up: nothing is left half-sent.
    await last.done.catch(() => undefined);
    throw err;
  }
  await last.done;
  return result;
}

function isRefusal(item: Admission): item is Refusal {
  return (item as { kind?: unknown }).kind === 'refused';
}

function problemRejection(problem: RowProblem): RejectedEntry {
  return {
    key: problem.key ?? `line:${problem.line}`,
    line: problem.line,
    code: 'invalid_entry',
    message: problem.reason,
  };
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
