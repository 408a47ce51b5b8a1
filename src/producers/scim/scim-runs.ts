import type { PeopleIndex } from '../../lib/store/people-index.ts';
import type { ScimBurstStore } from '../../lib/store/scim-bursts.ts';
import { closeRun, enqueueItems, type IntakeDeps, type RunHandle, startRun } from '../intake.ts';
import type { SourceEntry } from '../sources/adapter.ts';
import { offboardThreshold } from '../sync/plan.ts';
import type { CredentialStore } from '../../lib/store/credentials.ts';
import type { QuarantineDeps } from '../sync/quarantine.ts';
import { quarantinedError, quarantineOffboardBurst } from './offboard-burst.ts';

/**
 * How SCIM changes enter the pipeline: the same intake as every other source, in runs of source
 * `scim`, one per request burst (requests less than SCIM_BURST_WINDOW apart). A joiner or mover is
 * an entry of the burst's run (person step, then credential and hand-over as for a CSV row); a
 * leaver is an `offboard` job held for the burst window, so a burst of deactivations over the
 * sync safety threshold can still be quarantined whole ({@link quarantineOffboardBurst}); a returner is a
 * `reenable` job plus an entry. Job ids come from the run and the person, so a request the IdP
 * retries within the burst adds nothing; one retried later finds the pipeline's own look-ups
 * (person mapping, live credential, delivery record) and creates nothing twice.
 */

export interface ScimRunsDeps {
  /** Without a DoorFlow client: a SCIM run never prefetches, its person steps look up by themselves. */
  intake: IntakeDeps;
  people: PeopleIndex;
  bursts: ScimBurstStore;
  burstWindowMs: number;
  /** Where a burst over the safety threshold waits for an operator (`sync plans`). */
  quarantine: QuarantineDeps;
  credentials: Pick<CredentialStore, 'ofPerson' | 'get'>;
  now(): number;
}

export class ScimRuns {
  /** One burst decision at a time in this process (a second serve may start a run of its own: harmless). */
  #chain: Promise<unknown> = Promise.resolve();
  #timers = new Set<NodeJS.Timeout>();

  constructor(private readonly deps: ScimRunsDeps) {}

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn, fn);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  #handle(runId: string): RunHandle {
    const { delivery } = this.deps.intake.config;
    return {
      runId,
      delivery: delivery.defaultChannel,
      indexed: false,
      ...(delivery.fallback.length > 0 ? { fallback: delivery.fallback } : {}),
    };
  }

  /** The current burst's run, extended; a new run when the burst is over or `fresh`. */
  async #run(fresh = false): Promise<RunHandle> {
    const now = this.deps.now();
    const until = now + this.deps.burstWindowMs;
    const current = await this.deps.bursts.current();
    if (current && !fresh && current.until > now) {
      await this.deps.bursts.set({ runId: current.runId, until });
      return this.#handle(current.runId);
    }
    if (current) await closeRun(this.deps.intake, current.runId);
    const run = await startRun(this.deps.intake, {
      source: 'scim',
      delivery: this.deps.intake.config.delivery.defaultChannel,
      fallback: this.deps.intake.config.delivery.fallback,
      prefetch: false,
    });
    await this.deps.bursts.set({ runId: run.runId, until });
    this.#closeLater(run.runId);
    return run;
  }

  /** Closes the run's intake once its burst is over, so it can finish (a later burst closes it too). */
  #closeLater(runId: string): void {
    const timer = setTimeout(async () => {
      this.#timers.delete(timer);
      try {
        await this.#serial(async () => {
          const current = await this.deps.bursts.current();
          if (current?.runId === runId && current.until > this.deps.now()) {
            this.#closeLater(runId);
            return;
          }
          await closeRun(this.deps.intake, runId);
        });
      } catch (err) {
        this.deps.intake.logger.warn({ err, runId }, 'could not close the SCIM burst run');
      }
    }, this.deps.burstWindowMs + 50);
    timer.unref();
    this.#timers.add(timer);
  }

  /** Provisions (or updates) a person: an entry of the burst's run. Returns the run id. */
  provision(entry: SourceEntry, options: { reenable?: boolean } = {}): Promise<string> {
    return this.#serial(async () => {
      let run = await this.#run();
      let result = await enqueueItems(this.deps.intake, run, [entry]);
      if (result.accepted === 0) {
        // The key changed already in this burst: the next change is an entry of a new run.
        run = await this.#run(true);
        result = await enqueueItems(this.deps.intake, run, [entry]);
      }
      if (options.reenable) {
        const personId = await this.#personId(entry);
        if (personId !== undefined) {
          const queue = this.deps.intake.queues;
          // A deactivation still held in this burst is withdrawn: the person stays.
          await queue.get('offboard').remove(offboardJobId(run.runId, personId));
          await queue.add(
            'offboard',
            { runId: run.runId, key: entry.key, personId, action: 'reenable' },
            { jobId: `${run.runId}--on--${personId}` },
          );
        }
      }
      return run.runId;
    });
  }

  async #personId(entry: { key: string; system_id?: string | undefined; email?: string | undefined }) {
    const { people } = this.deps;
    const mapped = await people.mappedId(entry.key);
    if (mapped !== undefined) return mapped;
    const indexed =
      (entry.system_id ? await people.bySystemId(entry.system_id) : undefined) ??
      (entry.email ? await people.byEmail(entry.email) : undefined);
    return indexed?.id;
  }

  /**
   * Offboards a person (revoke live HID credentials, disable): an `offboard` job held for the burst
   * window. Over the threshold the whole burst is quarantined as one plan (answered 403). Resolves with
   * the run id, or undefined when the pipeline never settled a person for the user (nothing to
   * revoke).
   */
  offboard(
    user: { scimId: string; key: string; system_id?: string | undefined; email?: string | undefined },
    population: number,
  ): Promise<string | undefined> {
    return this.#serial(async () => {
      // A user whose deactivation waits in a quarantined plan (an IdP retry): the same answer.
      const waiting = await this.deps.bursts.planOf(user.scimId);
      if (waiting !== undefined) {
        if (await this.deps.quarantine.plans.get(waiting))
          throw quarantinedError(waiting, 'this deactivation is part of a burst over the safety threshold');
        await this.deps.bursts.forgetPlan(user.scimId);
      }
      const personId = await this.#personId(user);
      if (personId === undefined) return undefined;
      const run = await this.#run();
      const jobId = offboardJobId(run.runId, personId);
      const held = await this.deps.bursts.hold(run.runId, {
        scimId: user.scimId,
        key: user.key,
        personId,
        jobId,
      });
      const threshold = offboardThreshold(undefined, population);
      if (held.length > threshold) {
        await quarantineOffboardBurst(
          {
            queues: this.deps.intake.queues,
            logger: this.deps.intake.logger,
            quarantine: this.deps.quarantine,
            bursts: this.deps.bursts,
            credentials: this.deps.credentials,
            delivery: this.deps.intake.config.delivery.defaultChannel,
          },
          { runId: run.runId, offboards: held, threshold, population },
        );
      }
      await this.deps.intake.queues.add(
        'offboard',
        { runId: run.runId, key: user.key, personId, action: 'offboard', reason: 'scim' },
        { jobId, delay: this.deps.burstWindowMs },
      );
      return run.runId;
    });
  }

  /** Stops the close timers (serve is shutting down; the next burst closes what is left open). */
  close(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}

function offboardJobId(runId: string, personId: number): string {
  return `${runId}--off--${personId}`;
}
