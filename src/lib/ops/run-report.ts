import { csvCell } from '../store/audit-log.ts';
import type { DeadLetterStore } from '../store/dead-letters.ts';
import type { DeliveryStore } from '../store/deliveries.ts';
import type { EntryDetail, RunStore } from '../store/runs.ts';

/**
 * The hand-back after a run (e.g. an onboarding event): one line per roster entry with its person
 * id, credential id, status, delivery channel and time, and error code. Built from the run record,
 * the delivery records and the dead-letter store; never carries an invitation code or a token
 * (none of those sources holds one, and the row type has no field for it).
 */

/** One line of the report. Empty fields are `null` in JSON and empty cells in CSV. */
export interface ReportRow {
  key: string;
  name: string | null;
  person_id: number | null;
  credential_id: string | null;
  /** `provisioned`, `already_provisioned`, `failed` (dead or invalid) or `pending`. */
  status: 'provisioned' | 'already_provisioned' | 'failed' | 'pending';
  /** The step an entry failed at or is waiting in; null once provisioned. */
  step: string | null;
  delivery_channel: string | null;
  /** ISO-8601: when the invitation was delivered (or handed to DoorFlow's own email). */
  delivered_at: string | null;
  error_code: string | null;
}

export const REPORT_COLUMNS: readonly (keyof ReportRow)[] = [
  'key',
  'name',
  'person_id',
  'credential_id',
  'status',
  'step',
  'delivery_channel',
  'delivered_at',
  'error_code',
];

export type ReportFormat = 'csv' | 'json';

export interface RunReportDeps {
  deliveries: DeliveryStore;
  runs: RunStore;
  deadLetters?: DeadLetterStore;
}

function rowStatus(status: string): ReportRow['status'] {
  if (status === 'provisioned' || status === 'already_provisioned') return status;
  if (status === 'invalid' || status.startsWith('dead:')) return 'failed';
  return 'pending';
}

/** `invalid` entries were refused at intake; dead ones name the step they died at. */
function failedStep(status: string, detail: EntryDetail): string {
  if (status === 'invalid') return 'intake';
  return detail.step ?? status.replace(/^dead:/, '');
}

function iso(ms: number | undefined): string | null {
  return ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

/** Rows sorted by roster line when known, then by key. Undefined when the run does not exist. */
export async function buildRunReport(deps: RunReportDeps, runId: string): Promise<ReportRow[] | undefined> {
  const run = await deps.runs.get(runId);
  if (!run) return undefined;
  const [entries, names, dead] = await Promise.all([
    deps.runs.entries(runId),
    deps.runs.names(runId),
    deps.deadLetters ? deps.deadLetters.list({ runId }) : Promise.resolve([]),
  ]);
  const deadByKey = new Map(dead.map((d) => [d.key, d]));
  const rows = await Promise.all(
    entries.map(async ({ key, status, detail }) => {
      const state = rowStatus(status);
      const letter = deadByKey.get(key);
      const channel =
        detail.channel ?? (typeof letter?.payload.delivery === 'string' ? letter.payload.delivery : null);
      const row: ReportRow = {
        key,
        name: names[key] ?? nameFromPayload(letter?.payload) ?? null,
        person_id: detail.personId ?? numberOrNull(letter?.payload.personId),
        credential_id: detail.credentialId ?? stringOrNull(letter?.payload.credentialId),
        status: state,
        step: state === 'pending' ? status : state === 'failed' ? failedStep(status, detail) : null,
        delivery_channel: channel ?? run.delivery,
        delivered_at: null,
        error_code: state === 'failed' ? (detail.code ?? letter?.code ?? 'unknown') : null,
      };
      if (state === 'provisioned' || state === 'already_provisioned') {
        row.delivered_at = await deliveredAt(deps, row, detail);
      }
      return { row, line: detail.line };
    }),
  );
  rows.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || a.row.key.localeCompare(b.row.key));
  return rows.map((r) => r.row);
}

async function deliveredAt(deps: RunReportDeps, row: ReportRow, detail: EntryDetail): Promise<string | null> {
  if (row.credential_id && row.delivery_channel && row.delivery_channel !== 'doorflow') {
    const record = await deps.deliveries.find(row.credential_id, row.delivery_channel);
    if (record) return iso(record.at);
    // Already provisioned with nothing sent by us (accepted before we could deliver).
    return null;
  }
  // Mode doorflow: DoorFlow emails the code when the credential is created; the entry finished then.
  return row.status === 'provisioned' ? iso(detail.at) : null;
}

function nameFromPayload(payload: Record<string, unknown> | undefined): string | undefined {
  const entry = payload?.entry as { first_name?: unknown; last_name?: unknown } | undefined;
  if (!entry || typeof entry.first_name !== 'string') return undefined;
  return `${entry.first_name} ${typeof entry.last_name === 'string' ? entry.last_name : ''}`.trim();
}

function numberOrNull(v: unknown): number | null {
  return typeof v === 'number' ? v : null;
}

function stringOrNull(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** The report as text: CSV with a header row, or a JSON array with one entry per line. */
export function formatReport(rows: readonly ReportRow[], format: ReportFormat): string {
  if (format === 'json')
    return rows.length ? `[\n${rows.map((r) => JSON.stringify(r)).join(',\n')}\n]\n` : '[]\n';
  const lines = [REPORT_COLUMNS.join(',')];
  for (const row of rows) lines.push(REPORT_COLUMNS.map((c) => csvCell(row[c])).join(','));
  return `${lines.join('\n')}\n`;
}
