import { createHash } from 'node:crypto';

/**
 * Every Redis key this tool writes, in one place. All sit under the queue prefix (`QUEUE_PREFIX`,
 * hash-tagged, e.g. `{dfp}`), so the multi-key scripts stay in one Cluster slot and `redis-cli
 * --scan --pattern '{dfp}:*'` finds everything. BullMQ spells its own queue keys under the same
 * prefix; those are not ours.
 *
 * Changing a string here changes what a running fleet reads: the unit test pins every one.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  #key(...parts: (string | number)[]): string {
    return [this.prefix, ...parts].join(':');
  }

  // Runs (store/runs.ts)

  /** `run:{id}` hash: a run's metadata and counters. */
  run(runId: string): string {
    return this.#key('run', runId);
  }
  /** `run:{id}:status` hash: roster key → entry status. */
  runStatus(runId: string): string {
    return this.#key('run', runId, 'status');
  }
  /** `run:{id}:entries` hash: roster key → entry detail (JSON). */
  runEntries(runId: string): string {
    return this.#key('run', runId, 'entries');
  }
  /** `run:{id}:names` hash: roster key → display name (for `runs report`). */
  runNames(runId: string): string {
    return this.#key('run', runId, 'names');
  }
  /** `run:{id}:outcomes` hash: outcome group → its number in the outcome index (`#`: the last one given). */
  runOutcomeGroups(runId: string): string {
    return this.#key('run', runId, 'outcomes');
  }
  /** `run:{id}:index` sorted set: roster key by outcome group and roster position (store/run-pages.ts). */
  runOutcomeIndex(runId: string): string {
    return this.#key('run', runId, 'index');
  }
  /** `run:{id}:series` hash: `{minute}|{outcome}` and `{minute}|fail|{code}` → entries settled that minute. */
  runSeries(runId: string): string {
    return this.#key('run', runId, 'series');
  }
  /** The keys the run scripts take, in their KEYS order: hash, statuses, details, groups, index, series. */
  runScriptKeys(runId: string): string[] {
    return [
      this.run(runId),
      this.runStatus(runId),
      this.runEntries(runId),
      this.runOutcomeGroups(runId),
      this.runOutcomeIndex(runId),
      this.runSeries(runId),
    ];
  }
  /**
   * Every key that belongs to run `id` and goes with it when it is purged (`runs purge`, the
   * janitor): its hash, its per-entry hashes (statuses, details, people's names), its outcome index and
   * per-minute series, and its sync
   * counters, and (given the finish time) its once-per-finish marks. Whoever adds a per-run key
   * adds it here, and purge removes it. The run's member of the `runs` index and its dead letters
   * are removed beside these (store/run-purge.ts).
   */
  runKeys(runId: string, finishedAt?: number): string[] {
    const finish =
      finishedAt === undefined
        ? []
        : [this.runFinished(runId, finishedAt), this.runNotified(runId, String(finishedAt))];
    return [
      ...finish,
      this.runStatus(runId),
      this.runEntries(runId),
      this.runNames(runId),
      this.runOutcomeIndex(runId),
      this.runOutcomeGroups(runId),
      this.runSeries(runId),
      this.syncRun(runId),
      this.syncRunDone(runId),
      this.scimBurstOffboards(runId),
      // The run hash last: a purge cut short leaves the index member, so the next one finishes it.
      this.run(runId),
    ];
  }
  /** `runs` sorted set: run ids by start time. */
  get runs(): string {
    return this.#key('runs');
  }
  /** `run-finished:{id}:{finishedAt}`: the run watcher counted this finish (once per fleet). */
  runFinished(runId: string, finishedAt: number): string {
    return this.#key('run-finished', runId, finishedAt);
  }
  /** `notify:{id}:{finishedAt}`: the run-finished notification was sent for this finish. */
  runNotified(runId: string, finishedAt: string | undefined): string {
    return this.#key('notify', runId, finishedAt ?? '');
  }

  // Run control (store/run-cancel.ts, store/pipeline-pause.ts)

  /** `pipeline:pause` hash: the fleet stopped taking pipeline jobs (since, by); absent when running. */
  get pipelinePause(): string {
    return this.#key('pipeline', 'pause');
  }

  // Dead letters (store/dead-letters.ts)

  /** `dead:{id}`: one dead letter (JSON). */
  deadLetter(id: string): string {
    return this.#key('dead', id);
  }
  /** `dead` sorted set: live dead-letter ids by last failure. */
  get deadLetters(): string {
    return this.#key('dead');
  }
  /** SCAN pattern matching every `dead:{id}` record. */
  get deadLetterPattern(): string {
    return this.#key('dead', '*');
  }

  // People (store/people-index.ts, store/managed.ts)

  /** `people:index` hash: `sid:…` / `email:…` → person snapshot (JSON). */
  get peopleIndex(): string {
    return this.#key('people', 'index');
  }
  /** `people:index:build:{nonce}`: the index being rebuilt before it is swapped in. */
  peopleIndexBuild(nonce: string): string {
    return `${this.peopleIndex}:build:${nonce}`;
  }
  /** `people:map` hash: roster key → person id. */
  get peopleMap(): string {
    return this.#key('people', 'map');
  }
  /** `people:pending:{rosterKey}`: a person create was sent and not yet settled. */
  personPending(rosterKey: string): string {
    return this.#key('people', 'pending', rosterKey);
  }
  /** `people:contact:{personId}`: the roster email DoorFlow was not given (encrypted, email-policy). */
  personContact(personId: number): string {
    return this.#key('people', 'contact', personId);
  }
  /** `redis:epoch`: `{run_id}:{ms}` of the Redis server last seen, and when it was first seen after a restart (0: never restarted). */
  get redisEpoch(): string {
    return this.#key('redis', 'epoch');
  }
  /** `managed` set: ids of the DoorFlow people this tool created. */
  get managed(): string {
    return this.#key('managed');
  }

  // Credentials (store/credentials.ts, store/codes.ts)

  /** `cred:{id}` hash: a credential's status and metadata. */
  credential(id: string): string {
    return this.#key('cred', id);
  }
  /** `cred:{id}:history` list: the credential's status changes (JSON). */
  credentialHistory(id: string): string {
    return this.#key('cred', id, 'history');
  }
  /** `cred:{id}:code`: the encrypted reminder copy of the invitation code. */
  credentialCode(id: string): string {
    return this.#key('cred', id, 'code');
  }
  /**
   * Every key of credential `id` that goes when a revoked one is purged: its status hash, history,
   * reminder copy, reissue marker, timer list and delivery records on each channel. Its members of
   * `creds:by-status:*`, `creds:by-person:*` and the lifecycle timer index are removed beside these
   * (store/credentials.ts).
   */
  credentialKeys(id: string, channels: readonly string[]): string[] {
    return [
      this.credentialHistory(id),
      this.credentialCode(id),
      this.reissueMarker(id),
      this.credentialTimers(id),
      ...channels.flatMap((channel) => [this.delivered(id, channel), this.deliveryClaim(id, channel)]),
      this.credential(id),
    ];
  }
  /** `cred:pending:{personId}`: a credential create for the person was sent and not yet settled. */
  credentialPending(personId: number): string {
    return this.#key('cred', 'pending', personId);
  }
  /** `creds:by-status:{status}` sorted set: credential ids by when they reached the status. */
  credentialsByStatus(status: string): string {
    return `${this.credentialsByStatusBase}${status}`;
  }
  /** `creds:by-status:` — the base the status script appends a status to. */
  get credentialsByStatusBase(): string {
    return this.#key('creds', 'by-status', '');
  }
  /** `creds:statuses` set: every status ever recorded. */
  get credentialStatuses(): string {
    return this.#key('creds', 'statuses');
  }
  /** `creds:by-person:{personId}` set: a person's credential ids. */
  credentialsOfPerson(personId: number): string {
    return this.#key('creds', 'by-person', personId);
  }
  /** `creds:by-person:` and `creds:person-of:` — the bases a purge script appends a person or system id to. */
  get credentialLookupBases(): [byPerson: string, personOf: string] {
    return [this.#key('creds', 'by-person', ''), this.#key('creds', 'person-of', '')];
  }
  /** `creds:person-of:{systemId}`: the person id of a system id. */
  personOfSystemId(systemId: string): string {
    return this.#key('creds', 'person-of', systemId);
  }
  /** `cred:{id}:timers` set: the credential's members of the lifecycle timer index (cancelling). */
  credentialTimers(id: string): string {
    return this.#key('cred', id, 'timers');
  }

  // Lifecycle timers (store/lifecycle-timers.ts)

  /** `lifecycle:due` sorted set: every lifecycle timer (its job id) by due time on the lifecycle clock. */
  get lifecycleDue(): string {
    return this.#key('lifecycle', 'due');
  }
  /** `lifecycle:timers` hash: timer (job id) → its queue and job data (JSON). */
  get lifecycleTimers(): string {
    return this.#key('lifecycle', 'timers');
  }
  /** `lifecycle:in-hand` sorted set: timers popped and not yet handed to their queue, by lease end (Redis time). */
  get lifecycleInHand(): string {
    return this.#key('lifecycle', 'in-hand');
  }
  /** The timer keys the scripts take, in their KEYS order: due, payloads, in hand. */
  get lifecycleTimerKeys(): [due: string, timers: string, inHand: string] {
    return [this.lifecycleDue, this.lifecycleTimers, this.lifecycleInHand];
  }

  /** `reissue:{oldId}`: the replacement credential id of a reissue in progress. */
  reissueMarker(oldCredentialId: string): string {
    return this.#key('reissue', oldCredentialId);
  }

  // Deliveries (store/deliveries.ts)

  /** `delivered:{credentialId}:{channel}`: a channel confirmed the send (JSON). */
  delivered(credentialId: string, channel: string): string {
    return this.#key('delivered', credentialId, channel);
  }

  /** `delivering:{credentialId}:{channel}`: a send was started and not yet confirmed (JSON claim). */
  deliveryClaim(credentialId: string, channel: string): string {
    return this.#key('delivering', credentialId, channel);
  }

  // Locks (lib/core/locks.ts takes these)

  /** `lock:person:{rosterKey}`: the person step works on this roster key. */
  personLock(rosterKey: string): string {
    return this.#key('lock', 'person', rosterKey);
  }
  /** `lock:cred:{personId}`: the credential step works on this person. */
  credentialLock(personId: number): string {
    return this.#key('lock', 'cred', personId);
  }
  /** `lock:deliver:{credentialId}:{channel}`: a delivery of this credential is being sent. */
  deliveryLock(credentialId: string, channel: string): string {
    return this.#key('lock', 'deliver', credentialId, channel);
  }

  // DoorFlow webhooks (store/webhook-signatures.ts, processors/lifecycle/status-event.ts)

  /** `webhook:seen:{digest}`: an accepted webhook signature (replay protection). */
  webhookSeen(signature: string): string {
    const digest = createHash('sha256').update(signature).digest('hex').slice(0, 32);
    return this.#key('webhook', 'seen', digest);
  }
  /** `admin-session:{sha256(id)}`: a live `/admin` browser session (never the id itself). */
  adminSession(sessionId: string): string {
    const digest = createHash('sha256').update(sessionId).digest('hex');
    return this.#key('admin-session', digest);
  }
  /** `webhook:ack:{type}:{id}:{token}`: a webhook event already processed and acknowledged. */
  webhookAck(resourceType: string, resourceId: string, ackToken: string): string {
    return this.#key('webhook', 'ack', resourceType, resourceId, ackToken);
  }

  // Sync (store/sync-runs.ts)

  /** `sync:{runId}` hash: a sync run's plan sizes and offboarding counters. */
  syncRun(runId: string): string {
    return this.#key('sync', runId);
  }
  /** `sync:{runId}:done` set: offboard/re-enable side effects already counted. */
  syncRunDone(runId: string): string {
    return `${this.syncRun(runId)}:done`;
  }
  /** `sync:last:{sourceName}`: the source's row count at its last complete sync. */
  syncLastCount(sourceName: string): string {
    return this.#key('sync', 'last', sourceName);
  }
  /** `sync:history:{sourceName}` list: the source's latest plans (sizes and outcome, JSON, newest first). */
  syncHistory(sourceName: string): string {
    return this.#key('sync', 'history', sourceName);
  }

  // Quarantined plans (store/sync-plans.ts)

  /** `plan:{id}`: a quarantined plan (JSON; its diff sealed with ENCRYPTION_KEY when set). */
  quarantinedPlan(id: string): string {
    return this.#key('plan', id);
  }
  /** `plans` sorted set: quarantined plan ids by quarantine time. */
  get quarantinedPlans(): string {
    return this.#key('plans');
  }

  // Licences (store/licences.ts)

  /** `licence:learned` hash: the HID licence limit learned from DoorFlow's first `limit_reached`. */
  get learnedLicenceLimit(): string {
    return this.#key('licence', 'learned');
  }

  // SCIM inbound (store/scim-users.ts, store/scim-bursts.ts)

  /** `scim:users` hash: SCIM user id → the user's record (JSON, AES-256-GCM sealed). */
  get scimUsers(): string {
    return this.#key('scim', 'users');
  }
  /** `scim:user-names` hash: sha256 of the lower-cased `userName` → SCIM user id (uniqueness). */
  get scimUserNames(): string {
    return this.#key('scim', 'user-names');
  }
  /** `scim:inactive` sorted set: SCIM user id → when the IdP deactivated it (ms), for retention. */
  get scimInactive(): string {
    return this.#key('scim', 'inactive');
  }
  /** `scim:burst` hash: the run of the current SCIM request burst and when the burst ends. */
  get scimBurst(): string {
    return this.#key('scim', 'burst');
  }
  /** `scim:burst:{runId}:offboards` list: the burst's planned offboards (JSON), held for the safety check. */
  scimBurstOffboards(runId: string): string {
    return this.#key('scim', 'burst', runId, 'offboards');
  }
  /** `scim:quarantined` hash: SCIM user id → the quarantined plan holding the user's deactivation. */
  get scimQuarantined(): string {
    return this.#key('scim', 'quarantined');
  }

  // Operations (store/alerts.ts, store/audit-log.ts, store/workers.ts)

  /** `alerts:count` hash: alert kind → times raised. */
  get alertCounts(): string {
    return this.#key('alerts', 'count');
  }
  /** `alerts:sent:{kind}:{dedupeKey}`: this occurrence was raised already. */
  alertSent(kind: string, dedupeKey: string): string {
    return this.#key('alerts', 'sent', kind, dedupeKey);
  }
  /** `audit` stream: the audit log of DoorFlow changes. */
  get audit(): string {
    return this.#key('audit');
  }
  /** `workers` sorted set: worker id → last heartbeat (ms). */
  get workers(): string {
    return this.#key('workers');
  }

  // DoorFlow client (lib/doorflow/auth.ts, lib/doorflow/budget.ts)

  /** `tokens` hash: the fleet's shared DoorFlow tokens. */
  get tokens(): string {
    return this.#key('tokens');
  }
  /** `tokens:lock`: held by the process refreshing the tokens. */
  get tokensLock(): string {
    return this.#key('tokens', 'lock');
  }
  /** `auth:pause` hash: set when DoorFlow access is lost (since, reason, kind); every call waits. */
  get authPause(): string {
    return this.#key('auth', 'pause');
  }
  /** `budget`: the request schedule's theoretical arrival time (µs). */
  get budget(): string {
    return this.#key('budget');
  }
  /** `budget:log` sorted set: commit times of recent requests. */
  get budgetLog(): string {
    return this.#key('budget', 'log');
  }
  /** `budget:pause`: set (PX) after a 429; nobody sends before it ends. */
  get budgetPause(): string {
    return this.#key('budget', 'pause');
  }
  /** `budget:last`: the previous commit time. */
  get budgetLast(): string {
    return this.#key('budget', 'last');
  }
}
