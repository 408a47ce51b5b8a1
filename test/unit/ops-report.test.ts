import { describe, expect, it } from 'vitest';
import { csvCell } from '../../src/lib/store/audit-log.ts';
import { notificationBody } from '../../src/lib/ops/notify.ts';
import { formatReport, REPORT_COLUMNS, type ReportRow } from '../../src/lib/ops/run-report.ts';
import { parseWhen } from '../../src/cli/audit.ts';

const row = (over: Partial<ReportRow> = {}): ReportRow => ({
  key: 'sid:E1',
  name: 'Ada Lovelace',
  person_id: 7,
  credential_id: 'AbC9',
  status: 'provisioned',
  step: null,
  delivery_channel: 'webhook',
  delivered_at: '2026-01-31T10:00:00.000Z',
  error_code: null,
  ...over,
});

describe('run report formatting', () => {
  it('CSV: header, one line per entry, empty cells for nulls, quoting and formula defusing', async () => {
    const text = await formatReport(
      [
        row(),
        row({
          key: 'sid:E2',
          name: 'O"Neil, =cmd',
          person_id: null,
          status: 'failed',
          error_code: 'licence_limit',
        }),
      ],
      'csv',
    );
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe(REPORT_COLUMNS.join(','));
    expect(lines[1]).toBe('sid:E1,Ada Lovelace,7,AbC9,provisioned,,webhook,2026-01-31T10:00:00.000Z,');
    expect(lines[2]).toBe(
      'sid:E2,"O""Neil, =cmd",,AbC9,failed,,webhook,2026-01-31T10:00:00.000Z,licence_limit',
    );
    expect(csvCell('=SUM(A1)')).toBe("'=SUM(A1)");
    expect(csvCell(-5)).toBe('-5');
  });

  it('JSON: an array with one entry per line', async () => {
    const text = await formatReport([row(), row({ key: 'sid:E2' })], 'json');
    expect(JSON.parse(text)).toHaveLength(2);
    expect(text.split('\n')).toHaveLength(5);
    expect(await formatReport([], 'json')).toBe('[]\n');
  });
});

describe('audit export --since', () => {
  it('accepts durations ago and ISO times; rejects anything else', () => {
    const now = Date.UTC(2026, 0, 31);
    expect(parseWhen('7d', now)).toBe(now - 7 * 86_400_000);
    expect(parseWhen('12h', now)).toBe(now - 12 * 3_600_000);
    expect(parseWhen('2026-01-30', now)).toBe(Date.UTC(2026, 0, 30));
    expect(parseWhen('2026-01-30T12:00:00Z', now)).toBe(Date.UTC(2026, 0, 30, 12));
    expect(parseWhen('yesterday', now)).toBeUndefined();
  });
});

describe('run-finished notification body', () => {
  it('carries counts and failures by code, nothing else', () => {
    const body = notificationBody({
      runId: 'r1',
      outcome: 'completed_with_failures',
      total: 3,
      counts: { provisioned: 2, failed: 1 },
      failuresByCode: { licence_limit: 1 },
    });
    expect(Object.keys(body).sort()).toEqual(
      [
        'counts',
        'event',
        'failures_by_code',
        'finished_at',
        'outcome',
        'run_id',
        'started_at',
        'total',
      ].sort(),
    );
  });
});
