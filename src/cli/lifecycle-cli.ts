import { readFile } from 'node:fs/promises';
import type { Job } from 'bullmq';
import { parse } from 'csv-parse/sync';
import { TERMINAL_STATUSES } from '../lib/store/credentials.ts';
import { recordAndSchedule } from '../processors/lifecycle/schedule.ts';
import type { QueueName } from '../lib/jobs/registry.ts';
import type { Pipeline } from '../app/pipeline.ts';
import type { Logger } from '../lib/core/logger.ts';
import { systemClock } from '../lib/core/clock.ts';

/** Helpers shared by `status`, `revoke` and `reissue`. */

/** Credentials `revoke --wait` reads from DoorFlow itself per round. */
const POLL_SLICE = 25;

/** A person by system id: the local status index first, then DoorFlow (exact match). */
export async function resolvePersonId(pipeline: Pipeline, systemId: string): Promise<number | undefined> {
  const local = await pipeline.stores.credentials.personIdForSystemId(systemId);
  if (local !== undefined) return local;
  const page = await pipeline.doorflow().listPeople({ system_id: systemId, per_page: 100 });
  return page.items.find((p) => (p.system_id ?? '').trim() === systemId)?.id;
}

/** System ids (or emails) from a leavers CSV: a `system_id` column, else `email`. */
export async function readLeavers(file: string): Promise<{ systemId?: string; email?: string }[]> {
  const rows = parse(await readFile(file), {
    columns: (header: string[]) =>
      header.map((h) =>
        h
          .trim()
          .toLowerCase()
          .replace(/[\s-]+/g, '_'),
      ),
    skip_empty_lines: true,
    trim: true,
    bom: true,
  }) as Record<string, string>[];
  return rows
    .map((r) => ({
      ...(r.system_id ? { systemId: r.system_id } : {}),
      ...(!r.system_id && r.email ? { email: r.email.toLowerCase() } : {}),
    }))
    .filter((r) => r.systemId || r.email);
}

export async function resolvePersonByEmail(pipeline: Pipeline, email: string): Promise<number | undefined> {
  const page = await pipeline.doorflow().listPeople({ email, per_page: 100 });
  return page.items.find((p) => (p.email ?? '').toLowerCase() === email)?.id;
}

/**
 * Waits for a job to finish; its return value, or throws on failure / time-out. The state is read
 * first and the job only once that state is final: a job read before its state may predate its
 * completion (a worker finished it in between, leaving a null return value), while a completed or
 * failed job no longer changes.
 */
export async function waitForJob(
  pipeline: Pick<Pipeline, 'queues'>,
  queue: QueueName,
  jobId: string,
  deadline: number,
): Promise<unknown> {
  const q = pipeline.queues.get(queue);
  for (;;) {
    const state = await q.getJobState(jobId);
    if (state === 'completed' || state === 'failed') {
      const job = (await q.getJob(jobId)) as Job | undefined;
      if (state === 'completed' && job?.finishedOn !== undefined) return job.returnvalue;
      if (state === 'failed') throw new Error(`${queue} job failed: ${job?.failedReason ?? 'unknown error'}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`${queue} job still ${state === 'unknown' ? 'missing' : state} (is a worker running?)`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Waits until every credential is confirmed revoked (`revoked`, or `deleted` when DoorFlow no
 * longer has it). Webhooks or the poller usually get there; meanwhile this polls DoorFlow itself
 * every `pollEveryMs` (one budgeted request per credential still revoking). Returns those left.
 */
export async function waitForRevoked(
  pipeline: Pipeline,
  logger: Logger,
  targets: { personId: number; credentialId: string }[],
  deadline: number,
  pollEveryMs: number,
): Promise<string[]> {
  const deps = {
    config: pipeline.config,
    credentials: pipeline.stores.credentials,
    codes: pipeline.stores.codes,
    timers: pipeline.stores.timers,
    queues: pipeline.queues,
    clock: systemClock,
    logger,
  };
  let pending = [...targets];
  let lastPoll = Date.now();
  for (;;) {
    const next: typeof pending = [];
    for (const t of pending) {
      const status = (await deps.credentials.get(t.credentialId))?.status;
      if (!status || !TERMINAL_STATUSES.has(status)) next.push(t);
    }
    pending = next;
    if (pending.length === 0 || Date.now() > deadline) return pending.map((t) => t.credentialId);
    if (Date.now() - lastPoll >= pollEveryMs) {
      lastPoll = Date.now();
      // A bounded slice per round (rotating), so a long leavers list does not flood the budget.
      const slice = pending.slice(0, POLL_SLICE);
      pending = [...pending.slice(POLL_SLICE), ...slice];
      for (const t of slice) {
        try {
          const c = await pipeline.doorflow().getCredential(t.personId, t.credentialId);
          await recordAndSchedule(deps, {
            id: t.credentialId,
            status: c.status ?? 'unknown',
            source: 'poll',
          });
        } catch (err) {
          if ((err as { status?: number }).status === 404) {
            await recordAndSchedule(deps, { id: t.credentialId, status: 'deleted', source: 'poll' });
          } else throw err;
        }
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
