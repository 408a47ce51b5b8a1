import type { FaultCounters } from './faults.ts';
import type { SimState } from './state.ts';
import type { WebhookStats } from './webhooks.ts';

/**
 * What a rehearsal or a test wants to know afterwards: what was created, what was duplicated,
 * and how hard the client hit the API.
 */

/** People or credentials that share a key; `ids` are the people (or credential hashids). */
export interface DuplicateGroup {
  key: string;
  ids: (number | string)[];
}

/** The simulator's counters (`stats()` and `GET /__sim/stats`). */
export interface SimulatorStats {
  /** Live (not deleted) people. */
  people: number;
  deletedPeople: number;
  /** Credentials (revoked ones included, deleted value credentials excluded), by status; value types count as `value`. */
  credentials: Record<string, number>;
  credentialsTotal: number;
  /** Counts of groups: system_ids / emails held by more than one live person; people with more than one live HID credential. */
  duplicates: { peopleBySystemId: number; peopleByEmail: number; liveHidCredentials: number };
  /** The groups behind each duplicate count. */
  duplicateDetails: {
    peopleBySystemId: DuplicateGroup[];
    peopleByEmail: DuplicateGroup[];
    liveHidCredentials: DuplicateGroup[];
  };
  /** `METHOD /route/:pattern` → status (or `lost`) → count. */
  requests: Record<string, Record<string, number>>;
  requestsTotal: number;
  /** POST/PUT/DELETE requests received on /api/3 (before any fault or limit). */
  writeCount: number;
  rateLimited429: number;
  /** The most /api/3 requests received within any sliding 1 s window. */
  maxRequestsInAnySecond: number;
  faults: FaultCounters;
  webhooks: WebhookStats;
  oauth: { refreshTokenReuse: number };
}

export class RequestStats {
  byRoute = new Map<string, Map<string, number>>();
  total = 0;
  writeCount = 0;
  rateLimited429 = 0;
  maxInAnySecond = 0;
  #window: number[] = [];
  #head = 0;

  reset(): void {
    this.byRoute.clear();
    this.total = 0;
    this.writeCount = 0;
    this.rateLimited429 = 0;
    this.maxInAnySecond = 0;
    this.#window = [];
    this.#head = 0;
  }

  /** An /api/3 request arrived (counted before auth, limits and faults). */
  arrival(nowMs: number, method: string): void {
    if (method === 'POST' || method === 'PUT' || method === 'DELETE') this.writeCount++;
    this.#window.push(nowMs);
    while ((this.#window[this.#head] as number) <= nowMs - 1000) this.#head++;
    if (this.#head > 4096) {
      this.#window = this.#window.slice(this.#head);
      this.#head = 0;
    }
    this.maxInAnySecond = Math.max(this.maxInAnySecond, this.#window.length - this.#head);
  }

  record(routeKey: string, outcome: number | 'lost'): void {
    this.total++;
    if (outcome === 429) this.rateLimited429++;
    let statuses = this.byRoute.get(routeKey);
    if (!statuses) {
      statuses = new Map();
      this.byRoute.set(routeKey, statuses);
    }
    const key = String(outcome);
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
  }
}

function groupsOf<T>(items: T[], key: (item: T) => string | undefined, id: (item: T) => number | string) {
  const map = new Map<string, (number | string)[]>();
  for (const item of items) {
    const k = key(item);
    if (!k) continue;
    const ids = map.get(k) ?? [];
    ids.push(id(item));
    map.set(k, ids);
  }
  return [...map.entries()].filter(([, ids]) => ids.length > 1).map(([k, ids]) => ({ key: k, ids }));
}

export function buildStats(input: {
  state: SimState;
  requests: RequestStats;
  faults: FaultCounters;
  webhooks: WebhookStats;
  refreshTokenReuse: number;
}): SimulatorStats {
  const { state, requests } = input;
  const live = state.livePeople();
  const credentials: Record<string, number> = {};
  let credentialsTotal = 0;
  const liveHid: { personId: number; id: string }[] = [];
  for (const c of state.credentials.values()) {
    if (c.deleted) continue;
    credentialsTotal++;
    const status = c.isHid ? (c.status ?? 'unknown') : 'value';
    credentials[status] = (credentials[status] ?? 0) + 1;
    if (c.isHid && state.isLive(c)) liveHid.push({ personId: c.personId, id: c.id });
  }
  const bySystemId = groupsOf(
    live,
    (r) => r.person.system_id?.trim() || undefined,
    (r) => r.person.id,
  );
  const byEmail = groupsOf(
    live,
    (r) => r.person.email?.trim().toLowerCase() || undefined,
    (r) => r.person.id,
  );
  const hidDupes = groupsOf(
    liveHid,
    (c) => String(c.personId),
    (c) => c.id,
  );
  const routes: Record<string, Record<string, number>> = {};
  for (const [route, statuses] of requests.byRoute) routes[route] = Object.fromEntries(statuses);
  return {
    people: live.length,
    deletedPeople: state.people.size - live.length,
    credentials,
    credentialsTotal,
    duplicates: {
      peopleBySystemId: bySystemId.length,
      peopleByEmail: byEmail.length,
      liveHidCredentials: hidDupes.length,
    },
    duplicateDetails: { peopleBySystemId: bySystemId, peopleByEmail: byEmail, liveHidCredentials: hidDupes },
    requests: routes,
    requestsTotal: requests.total,
    writeCount: requests.writeCount,
    rateLimited429: requests.rateLimited429,
    maxRequestsInAnySecond: requests.maxInAnySecond,
    faults: { ...input.faults },
    webhooks: input.webhooks,
    oauth: { refreshTokenReuse: input.refreshTokenReuse },
  };
}
