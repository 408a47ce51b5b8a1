import pLimit from 'p-limit';
import { ConfigError, PayloadError } from '../../lib/core/errors.ts';
import type {
  FetchRosterOptions,
  RosterAdapter,
  SourceItem,
  SourceMetadata,
  SourceStats,
} from './adapter.ts';
import { createFeedHttp, fetchJson, type FeedHttpOptions, SourceError } from './feed-http.ts';
import {
  fetchRules,
  isRejection,
  type RawRecord,
  type ValidateOptions,
  validateRecord,
} from '../validate-row.ts';

/**
 * BambooHR (`https://api.bamboohr.com/api/gateway.php/{company}/v1/…`, HTTP Basic with the API
 * key as user and `x` as password, `Accept: application/json`).
 *
 * Full roster: `POST /v1/reports/custom?format=JSON&onlyCurrent=false` with the fields we need;
 * the answer is `{ title, fields: [{id,type,name}], employees: [{ id, employeeNumber, … }] }` in
 * one document (the endpoint does not page). Incremental (`--since`):
 * `GET /v1/employees/changed?since=ISO` → `{ latest, employees: { "<id>": { id, action,
 * lastChanged } } }`, then `GET /v1/employees/{id}?fields=…` for each inserted/updated employee.
 */

/** The BambooHR fields we request (field names as BambooHR spells them). */
const BAMBOOHR_FIELDS = [
  'employeeNumber',
  'firstName',
  'lastName',
  'workEmail',
  'mobilePhone',
  'department',
  'jobTitle',
  'status',
  'hireDate',
  'terminationDate',
] as const;

export interface BambooHrOptions extends FeedHttpOptions {
  company: string;
  apiKey: string;
  /** Default `https://api.bamboohr.com` (BAMBOOHR_BASE_URL; tests point it at a fake server). */
  baseUrl?: string;
  /** Employees fetched at once on the `--since` path. Default 4. */
  concurrency?: number;
  /** Today as YYYY-MM-DD. */
  today?: string;
}

type Employee = Record<string, unknown>;

const str = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

/** BAMBOOHR_API_KEY unset: a setting, not a bad argument, so exit 3 like every configuration problem. */
export function missingApiKey(): ConfigError {
  return new ConfigError([{ variable: 'BAMBOOHR_API_KEY', expected: 'required for --source bamboohr' }]);
}

export class BambooHrAdapter implements RosterAdapter {
  readonly name = 'bamboohr';
  private readonly counters: SourceStats = { read: 0, valid: 0, invalid: 0, blank: 0 };
  private incremental = false;

  constructor(private readonly options: BambooHrOptions) {
    if (!options.apiKey) {
      throw missingApiKey();
    }
    if (!/^[A-Za-z0-9-]+$/.test(options.company)) {
      throw new PayloadError(
        `invalid --company ${JSON.stringify(options.company)}: expected the BambooHR subdomain`,
      );
    }
  }

  metadata(): SourceMetadata {
    return {
      source: 'bamboohr',
      description: `BambooHR company ${this.options.company}${this.incremental ? ' (changed employees)' : ''}`,
      ignoredFields: [],
      complete: !this.incremental,
    };
  }

  stats(): SourceStats {
    return { ...this.counters };
  }

  private base(): string {
    const root = (this.options.baseUrl ?? 'https://api.bamboohr.com').replace(/\/+$/, '');
    return `${root}/api/gateway.php/${encodeURIComponent(this.options.company)}/v1`;
  }

  async *fetchRoster(options: FetchRosterOptions, signal?: AbortSignal): AsyncGenerator<SourceItem> {
    const auth = `Basic ${Buffer.from(`${this.options.apiKey}:x`).toString('base64')}`;
    const http = createFeedHttp({
      ...this.options,
      headers: { ...(this.options.headers ?? {}), authorization: auth },
    });
    const today = this.options.today ?? new Date().toISOString().slice(0, 10);
    const rules = fetchRules(options, today);
    const toItem = (employee: Employee): SourceItem => this.toItem(employee, rules, today);

    if (!options.since) {
      const url = `${this.base()}/reports/custom?format=JSON&onlyCurrent=false`;
      const { body } = await fetchJson(
        http,
        url,
        { method: 'POST', json: { title: 'doorflow-provisioner roster', fields: BAMBOOHR_FIELDS }, signal },
        'BambooHR custom report',
      );
      const employees = (body as { employees?: unknown } | null)?.employees;
      if (!Array.isArray(employees))
        throw new SourceError('BambooHR custom report: the answer has no "employees" array');
      for (const employee of employees) yield toItem(employee as Employee);
      return;
    }

    this.incremental = true;
    const changedUrl = `${this.base()}/employees/changed?since=${encodeURIComponent(options.since)}`;
    const { body } = await fetchJson(http, changedUrl, { signal }, 'BambooHR changed employees');
    const changed = (body as { employees?: unknown } | null)?.employees;
    if (!changed || typeof changed !== 'object') {
      throw new SourceError('BambooHR changed employees: the answer has no "employees" object');
    }
    const ids = Object.values(changed as Record<string, { id?: unknown; action?: unknown }>)
      .filter((c) => String(c.action ?? '').toLowerCase() !== 'deleted')
      .map((c) => String(c.id));
    const limit = pLimit(this.options.concurrency ?? 4);
    const fields = BAMBOOHR_FIELDS.join(',');
    // Fetch in slices so a huge change list never holds every employee in memory at once.
    for (let i = 0; i < ids.length; i += 50) {
      const slice = ids.slice(i, i + 50);
      const employees = await Promise.all(
        slice.map((id) =>
          limit(async () => {
            const url = `${this.base()}/employees/${encodeURIComponent(id)}?fields=${fields}`;
            return (await fetchJson(http, url, { signal }, `BambooHR employee ${id}`)).body as Employee;
          }),
        ),
      );
      for (const employee of employees) yield toItem(employee);
    }
  }

  private toItem(employee: Employee, rules: ValidateOptions, today: string): SourceItem {
    this.counters.read += 1;
    const n = this.counters.read;
    const raw: RawRecord = {
      system_id: str(employee.employeeNumber),
      first_name: str(employee.firstName),
      last_name: str(employee.lastName),
      email: str(employee.workEmail),
      mobile: str(employee.mobilePhone),
      department: str(employee.department),
      job_title: str(employee.jobTitle),
      status: str(employee.status) ?? 'active',
      termination_date: str(employee.terminationDate),
    };
    const hire = str(employee.hireDate);
    const result = validateRecord(raw, n, rules);
    if (
      !isRejection(result) &&
      result.active !== false &&
      hire &&
      /^\d{4}-\d{2}-\d{2}$/.test(hire) &&
      hire > today
    ) {
      // Not started yet: no pass before day one, but never treated as a leaver either.
      this.counters.invalid += 1;
      return {
        kind: 'problem',
        line: n,
        reason: `starts on ${hire}: not provisioned yet`,
        key: result.key,
        record: employee,
      };
    }
    if (isRejection(result)) {
      this.counters.invalid += 1;
      return {
        kind: 'problem',
        line: n,
        reason: result.reason,
        record: employee,
        ...(result.key ? { key: result.key } : {}),
      };
    }
    this.counters.valid += 1;
    return result;
  }
}
