import type { Config } from '../../lib/core/config.ts';
import type { Credential, DoorFlowApi, Person } from '../../lib/doorflow/types.ts';
import { PayloadError } from '../../lib/core/errors.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { Metrics } from '../../lib/core/metrics.ts';
import type { ManagedSet } from '../../lib/store/managed.ts';
import type { SyncRunStore } from '../../lib/store/sync-runs.ts';
import type { DeliveryChannelName } from '../../lib/delivery/channel-names.ts';
import { doorflowGetsEmail } from '../../lib/roster/email-policy.ts';
import { isRowProblem, type RosterAdapter, type SourceEntry, type SourceItem } from '../sources/adapter.ts';
import { BambooHrAdapter } from '../sources/bamboohr.ts';
import { CsvSourceAdapter } from '../sources/csv-source.ts';
import { safeUrl } from '../sources/feed-http.ts';
import { closeRun, enqueueItems, type IntakeDeps, startRun } from '../intake.ts';
import { JsonFeedAdapter, loadFeedMapping } from '../sources/json-feed.ts';
import { dedupeBatches, ProblemSummary } from '../row-errors.ts';
import { buildSyncPlan, parseOffboardLimit, type SyncPlan } from './plan.ts';
import type { AuditLog } from '../../lib/store/audit-log.ts';
import type { LicenceStore } from '../../lib/store/licences.ts';
import type { PlanSummary } from '../../lib/store/sync-plans.ts';
import { countLiveHid, licenceHeadroom } from '../../lib/ops/licence-headroom.ts';
import {
  type OpenedPlan,
  type PlanApplyOptions,
  type PlanDecider,
  type QuarantineDeps,
  quarantinePlan,
  recordApproval,
  takeForApproval,
} from './quarantine.ts';

/**
 * `sync`: read a whole roster from a source, compare it with DoorFlow, and (unless `--dry-run` or
 * a safety check refuses) apply the plan — joiners and movers through the pipeline's person step,
 * leavers through the `offboard` queue. Unchanged people cost no write calls: the comparison needs
 * only the people and credential listings.
 */

/** Where the roster comes from (serialisable: it is also the scheduled job's payload). */
export interface SyncSourceSpec {
  source: 'csv' | 'bamboohr' | 'json';
  file?: string | undefined;
  url?: string | undefined;
  company?: string | undefined;
  /** JSON feed field-mapping file. */
  mapping?: string | undefined;
  /** Extra request headers for JSON/CSV feeds (`Authorization: Bearer …`). */
  headers?: Record<string, string> | undefined;
  /** Incremental BambooHR sync: only employees changed since this ISO instant (never offboards absentees). */
  since?: string | undefined;
  map?: string[] | undefined;
  delimiter?: string | undefined;
  timeoutMs?: number | undefined;
  /** `--source-name`: what the safety checks, history and quarantine are kept under. */
  sourceName?: string | undefined;
}

export interface SyncOptions extends SyncSourceSpec {
  delivery?: DeliveryChannelName | undefined;
  defaultCountry?: string | undefined;
  dryRun?: boolean | undefined;
  force?: boolean | undefined;
  /** `N` or `P%`. */
  maxOffboard?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface SyncDeps {
  config: Config;
  intake: IntakeDeps;
  doorflow: DoorFlowApi;
  hidCredentialTypeId(): Promise<number>;
  /** People this tool created: the only ones a sync may offboard outside its scope prefix. */
  managed: ManagedSet;
  /** Plan sizes and offboarding counters per sync run; the last row count per source. */
  syncRuns: SyncRunStore;
  logger: Logger;
  /** Records the plan's sizes (`dfp_sync_plan_size`); optional. */
  metrics?: Pick<Metrics, 'syncPlan'>;
  /** The learned HID licence limit (HID_LICENCE_LIMIT wins); absent: headroom only from the config. */
  licences?: Pick<LicenceStore, 'learned'>;
  /** Where a refused plan goes to wait for approval; absent: refused plans are only refused. */
  quarantine?: QuarantineDeps;
  /** Approvals are audited with who approved. */
  audit?: AuditLog | undefined;
  /** What else an applied approval changes (a SCIM burst: the users become inactive). */
  afterApproval?: (opened: OpenedPlan, runId: string) => Promise<unknown>;
}

export interface SyncReport {
  source: string;
  sourceId: string;
  /** What the safety checks, history and quarantine are kept under. */
  sourceName: string;
  /** The refused plan, stored for `sync approve` / `sync reject`. */
  quarantined?: PlanSummary;
  dryRun: boolean;
  refused: boolean;
  plan: SyncPlan;
  problems: {
    total: number;
    reasons: { reason: string; count: number }[];
    samples: { line: number; reason: string }[];
  };
  ignoredFields: readonly string[];
  runId: string | undefined;
}

/**
 * The name a source's safety checks, plan history and quarantine are kept under: `--source-name`,
 * else the kind plus the BambooHR company or the feed's host, or `csv` for files (nightly exports
 * are often dated, so the path is no identity).
 */
export function sourceNameOf(spec: SyncSourceSpec): string {
  if (spec.sourceName) return spec.sourceName;
  if (spec.source === 'bamboohr') return `bamboohr:${spec.company ?? ''}`;
  if (spec.file || !spec.url) return spec.source;
  try {
    return `${spec.source}:${new URL(spec.url).host}`;
  } catch {
    return spec.source;
  }
}

/** Where the roster is read from (the run's source, the schedule's id): the kind plus file, company or URL. */
export function sourceIdOf(spec: SyncSourceSpec): string {
  if (spec.source === 'bamboohr') return `bamboohr:${spec.company ?? ''}`;
  if (spec.file) return `${spec.source}:${spec.file}`;
  return `${spec.source}:${safeUrl(spec.url ?? '')}`;
}

async function buildAdapter(spec: SyncSourceSpec, config: Config): Promise<RosterAdapter> {
  const http = {
    ...(spec.timeoutMs ? { timeoutMs: spec.timeoutMs } : {}),
    ...(spec.headers ? { headers: spec.headers } : {}),
  };
  switch (spec.source) {
    case 'csv':
      if (!spec.file && !spec.url) throw new PayloadError('sync --source csv needs --file PATH or --url URL');
      return new CsvSourceAdapter({
        ...http,
        ...(spec.file ? { file: spec.file } : { url: spec.url }),
        csv: {
          ...(spec.map ? { map: spec.map } : {}),
          ...(spec.delimiter ? { delimiter: spec.delimiter } : {}),
        },
      });
    case 'bamboohr':
      if (!spec.company) throw new PayloadError('sync --source bamboohr needs --company NAME');
      return new BambooHrAdapter({
        ...http,
        company: spec.company,
        apiKey: config.hris.bamboohrApiKey ?? '',
        ...(config.hris.bamboohrBaseUrl ? { baseUrl: config.hris.bamboohrBaseUrl } : {}),
      });
    case 'json':
      if (!spec.url || !spec.mapping)
        throw new PayloadError('sync --source json needs --url URL and --mapping FILE');
      return new JsonFeedAdapter({ ...http, url: spec.url, mapping: await loadFeedMapping(spec.mapping) });
    default:
      throw new PayloadError(`unknown --source ${String(spec.source)} (expected csv, bamboohr or json)`);
  }
}

async function* batched(items: AsyncIterable<SourceItem>, size: number): AsyncGenerator<SourceItem[]> {
  let batch: SourceItem[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** The channel of a sync's run: `--delivery`, else DELIVERY_DEFAULT. */
function runChannel(options: SyncOptions, config: Config): DeliveryChannelName {
  return options.delivery ?? config.delivery.defaultChannel;
}

/**
 * Reads the source completely (a failed feed throws: nothing is planned, nothing offboarded). The
 * rows are validated for the run's channel, so a person it cannot reach is a problem of the roster.
 */
async function readRoster(adapter: RosterAdapter, options: SyncOptions, config: Config) {
  const entries: SourceEntry[] = [];
  const problemKeys = new Set<string>();
  const summary = new ProblemSummary();
  const fetchOptions = {
    ...(options.delivery ? { delivery: options.delivery } : {}),
    fallbackDelivery: runChannel(options, config),
    fallbackOrder: config.delivery.fallback,
    ...(options.defaultCountry ? { defaultCountry: options.defaultCountry } : {}),
    ...(options.since ? { since: options.since } : {}),
  };
  for await (const batch of dedupeBatches(batched(adapter.fetchRoster(fetchOptions, options.signal), 500))) {
    for (const item of batch) {
      if (!isRowProblem(item)) entries.push(item);
      else {
        summary.add(item);
        if (item.key && !item.reason.startsWith('duplicate key')) problemKeys.add(item.key);
      }
    }
  }
  return { entries, problemKeys, summary };
}

export async function runSync(deps: SyncDeps, options: SyncOptions): Promise<SyncReport> {
  const sourceId = sourceIdOf(options);
  const sourceName = sourceNameOf(options);
  const adapter = await buildAdapter(options, deps.config);
  const maxOffboard = options.maxOffboard ? parseOffboardLimit(options.maxOffboard) : undefined;
  const { entries, problemKeys, summary } = await readRoster(adapter, options, deps.config);
  const call = options.signal ? { signal: options.signal } : {};
  const people: Person[] = [];
  for await (const person of deps.doorflow.iteratePeople({}, call)) people.push(person);
  const credentials: Credential[] = [];
  for await (const credential of deps.doorflow.iterateCredentials(call)) credentials.push(credential);
  const managedIds = await deps.managed.ids();
  const previousCount = await deps.syncRuns.lastSourceCount(sourceName);
  const metadata = adapter.metadata();
  const hidCredentialTypeId = await deps.hidCredentialTypeId();
  const headroom = deps.licences
    ? await licenceHeadroom(
        deps.config.doorflow.licenceLimit,
        deps.licences,
        countLiveHid(credentials, hidCredentialTypeId),
      )
    : undefined;
  const plan = buildSyncPlan({
    roster: entries,
    problemKeys,
    people,
    credentials,
    hidCredentialTypeId,
    headroom,
    scope: { prefix: deps.config.hris.syncScopePrefix, managedIds },
    sourceComplete: metadata.complete,
    previousCount,
    maxOffboard,
    force: options.force === true,
    withEmail: (entry) =>
      doorflowGetsEmail(deps.config.doorflow.sendEmail, entry.delivery ?? runChannel(options, deps.config)),
  });
  deps.metrics?.syncPlan({
    create: plan.create.length,
    update: plan.update.length,
    offboard: plan.offboard.length,
    unchanged: plan.unchanged,
  });
  const report: SyncReport = {
    source: metadata.description,
    sourceId,
    sourceName,
    dryRun: options.dryRun === true,
    refused: !plan.safety.ok,
    plan,
    problems: { total: summary.total, reasons: summary.reasons(), samples: summary.samples },
    ignoredFields: metadata.ignoredFields,
    runId: undefined,
  };
  if (options.dryRun) return report;
  const apply = { sourceId, delivery: runChannel(options, deps.config), sourceComplete: metadata.complete };
  if (report.refused) {
    if (deps.quarantine)
      report.quarantined = await quarantinePlan(deps.quarantine, { sourceName, plan, apply });
    return report;
  }
  report.runId = await applyPlan(deps, plan, apply, options.signal);
  await afterApply(deps, sourceName, plan, apply, { outcome: 'applied', runId: report.runId });
  return report;
}

/** After a plan went to the pipeline: the source's previous count (complete reads only) and history. */
async function afterApply(
  deps: SyncDeps,
  sourceName: string,
  plan: SyncPlan,
  apply: PlanApplyOptions,
  entry: { outcome: string; runId: string; planId?: string },
): Promise<void> {
  if (apply.sourceComplete) await deps.syncRuns.setLastSourceCount(sourceName, plan.counts.source);
  if (entry.outcome !== 'applied') return;
  await deps.syncRuns.addHistory(sourceName, {
    at: Date.now(),
    ...entry,
    source: plan.counts.source,
    create: plan.create.length,
    update: plan.update.length,
    offboard: plan.offboard.length,
  });
}

/** What `sync approve` (and `/admin/plans`) reports. */
export type ApprovalResult =
  | { status: 'applied'; runId: string; summary: PlanSummary }
  | { status: 'drifted'; reason: string; summary: PlanSummary }
  | { status: 'not_found' };

/**
 * Applies exactly the quarantined plan `id` — unless DoorFlow changed since it was made (then it
 * stays quarantined and the numbers say what moved). Taken once: a second approval finds nothing.
 */
export async function approvePlan(
  deps: SyncDeps,
  id: string,
  who: PlanDecider,
  signal?: AbortSignal,
): Promise<ApprovalResult> {
  const quarantine = deps.quarantine;
  if (!quarantine) return { status: 'not_found' };
  if (!(await quarantine.plans.get(id))) return { status: 'not_found' };
  const call = signal ? { signal } : {};
  const people: Person[] = [];
  for await (const person of deps.doorflow.iteratePeople({}, call)) people.push(person);
  const credentials: Credential[] = [];
  for await (const credential of deps.doorflow.iterateCredentials(call)) credentials.push(credential);
  const taken = await takeForApproval(quarantine, id, {
    people,
    credentials,
    hidTypeId: await deps.hidCredentialTypeId(),
  });
  if (!taken) return { status: 'not_found' };
  const { opened } = taken;
  if (taken.drift) return { status: 'drifted', reason: taken.drift, summary: opened.summary };
  const runId = await applyPlan(deps, opened.plan, opened.apply, signal);
  await afterApply(deps, opened.summary.sourceName, opened.plan, opened.apply, {
    outcome: 'approved',
    runId,
  });
  await recordApproval({ ...quarantine, audit: deps.audit }, opened, who, runId);
  await deps.afterApproval?.(opened, runId);
  return { status: 'applied', runId, summary: opened.summary };
}

async function applyPlan(
  deps: SyncDeps,
  plan: SyncPlan,
  apply: PlanApplyOptions,
  signal: AbortSignal | undefined,
): Promise<string> {
  const { delivery, sourceId } = apply;
  const provision = [...plan.create.map((c) => c.entry), ...plan.update.map((u) => u.entry)];
  const run = await startRun(deps.intake, {
    source: `sync:${sourceId}`,
    delivery,
    fallback: deps.config.delivery.fallback,
    // The index only matters when entries go through the person step.
    prefetch: provision.length > 0,
    ...(signal ? { signal } : {}),
  });
  const reenable = plan.create.filter((c) => c.reenable && c.personId !== undefined);
  await deps.syncRuns.recordPlan(run.runId, {
    source: sourceId,
    create: plan.create.length,
    update: plan.update.length,
    offboardPlanned: plan.offboard.length,
    reenablePlanned: reenable.length,
    unchanged: plan.unchanged,
  });
  if (reenable.length > 0) {
    await deps.intake.queues.addBulk(
      'offboard',
      reenable.map((c) => ({
        payload: { runId: run.runId, key: c.key, personId: c.personId ?? 0, action: 'reenable' as const },
        opts: { jobId: `${run.runId}--on--${c.personId}` },
      })),
    );
  }
  if (provision.length > 0) await enqueueItems(deps.intake, run, provision, { signal });
  if (plan.offboard.length > 0) {
    await deps.intake.queues.addBulk(
      'offboard',
      plan.offboard.map((o) => ({
        payload: {
          runId: run.runId,
          key: o.key,
          personId: o.personId,
          action: 'offboard' as const,
          disable: o.disable,
          reason: o.reason,
        },
        opts: { jobId: `${run.runId}--off--${o.personId}` },
      })),
    );
  }
  await closeRun(deps.intake, run.runId);
  deps.logger.info(
    {
      runId: run.runId,
      create: plan.create.length,
      update: plan.update.length,
      offboard: plan.offboard.length,
    },
    'sync applied',
  );
  return run.runId;
}
