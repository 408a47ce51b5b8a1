import { csvCell } from '../store/audit-log.ts';
import { type DeadLetter, type DeadLetterStore, deadLetterId } from '../store/dead-letters.ts';
import type { DeliveryStore } from '../store/deliveries.ts';
import type { RunPages } from '../store/run-pages.ts';
import type { EntryDetail, RunRecord, RunStore } from '../store/runs.ts';

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
  pages: RunPages;
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

/**
 * The report a batch at a time, in roster order (line when known, else arrival), read through the
 * outcome index: memory holds one batch, whatever the run's size. Undefined when the run does not
 * exist.
 */
export async function streamRunReport(
  deps: RunReportDeps,
  runId: string,
  batch = 1000,
): Promise<AsyncGenerator<ReportRow[]> | undefined> {
  await deps.pages.ready(runId);
  const run = await deps.runs.get(runId);
  if (!run) return undefined;
  return (async function* () {
    for await (const entries of deps.pages.scan(runId, batch)) {
      const keys = entries.map((e) => e.key);
      const [names, dead] = await Promise.all([
        deps.pages.names(runId, keys),
        deadLettersOf(deps.deadLetters, runId, entries),
      ]);
      yield await Promise.all(
        entries.map(({ key, status, detail }, i) =>
          reportRow(deps, run, { key, status, detail }, names[i], dead.get(key)),
        ),
      );
    }
  })();
}

/** Every row at once (small runs, tests); `streamRunReport` for anything big. */
export async function buildRunReport(deps: RunReportDeps, runId: string): Promise<ReportRow[] | undefined> {
  const batches = await streamRunReport(deps, runId);
  if (!batches) return undefined;
  const rows: ReportRow[] = [];
  for await (const batch of batches) rows.push(...batch);
  return rows;
}

/** Dead letters of the batch's dead entries, by key: their ids follow from (run, key, step). */
async function deadLettersOf(
  store: DeadLetterStore | undefined,
  runId: string,
  entries: readonly { key: string; status: string }[],
): Promise<Map<string, DeadLetter>> {
  const out = new Map<string, DeadLetter>();
  if (!store) return out;
  const dead = entries.filter((e) => e.status.startsWith('dead:'));
  const letters = await Promise.all(
    dead.map((e) => store.get(deadLetterId(runId, e.key, e.status.slice(5)))),
  );
  for (const letter of letters) if (letter) out.set(letter.key, letter);
  return out;
}

async function reportRow(
  deps: RunReportDeps,
  run: RunRecord,
  { key, status, detail }: { key: string; status: string; detail: EntryDetail },
  name: string | null | undefined,
  letter: DeadLetter | undefined,
): Promise<ReportRow> {
  const state = rowStatus(status);
  const channel =
    detail.channel ?? (typeof letter?.payload.delivery === 'string' ? letter.payload.delivery : null);
  const row: ReportRow = {
    key,
    name: name ?? nameFromPayload(letter?.payload) ?? null,
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
  return row;
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

function csvLine(row: ReportRow): string {
  return REPORT_COLUMNS.map((c) => csvCell(row[c])).join(',');
}

/**
 * The report as text chunks (one per batch): CSV with a header row, or a JSON array with one
 * entry per line. Pipe into a stream: nothing but the current batch is held.
 */
export async function* reportText(
  batches: AsyncIterable<readonly ReportRow[]> | Iterable<readonly ReportRow[]>,
  format: ReportFormat,
): AsyncGenerator<string> {
  let first = true;
  if (format === 'csv') yield `${REPORT_COLUMNS.join(',')}\n`;
  for await (const rows of batches) {
    if (rows.length === 0) continue;
    if (format === 'csv') yield `${rows.map(csvLine).join('\n')}\n`;
    else {
      yield `${first ? '[\n' : ',\n'}${rows.map((r) => JSON.stringify(r)).join(',\n')}`;
      first = false;
    }
  }
  if (format === 'json') yield first ? '[]\n' : '\n]\n';
}

/** The report as one string (small runs, tests). */
export async function formatReport(rows: readonly ReportRow[], format: ReportFormat): Promise<string> {
  let text = '';
  for await (const chunk of reportText([rows], format)) text += chunk;
  return text;
}
