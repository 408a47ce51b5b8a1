import { afterEach, describe, expect, it } from 'vitest';
import { createDoorFlowClient } from '../../src/lib/doorflow/client.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { createMetrics } from '../../src/lib/core/metrics.ts';
import { buildRunReport, REPORT_COLUMNS } from '../../src/lib/ops/run-report.ts';
import { startWorkers } from '../../src/processors/worker.ts';
import { intake } from '../../src/producers/intake.ts';
import { runCli } from '../helpers/cli.ts';
import { parsePromText, sampleSum, sampleValue } from '../helpers/ops-prom-text.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

/** Splits one CSV line (RFC 4180 quoting) into cells. */
function cells(line: string): string[] {
  const out: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cell);
      cell = '';
    } else cell += c;
  }
  out.push(cell);
  return out;
}

const LIVE = new Set(['invited', 'provisioning', 'active']);

/**
 * Acceptance 3 and 4: a run with successes, failures at intake and dead letters (licence limit).
 * `runs report` (the real CLI) matches the simulator's ground truth line by line, and the
 * metrics counters moved during the run.
 */
describe('runs report and metrics against the simulator', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('reports every entry as the simulator and the delivery receiver saw it', async () => {
    h = await startHarness({ sim: { licenceLimit: 6 } });
    const metrics = createMetrics();
    const client = createDoorFlowClient({
      config: h.config.doorflow,
      redis: h.pipeline.redis,
      keys: h.pipeline.keys,
      logger: silentLogger(),
      metrics,
    });
    const before = parsePromText(await metrics.registry!.metrics());
    expect(sampleSum(before, 'dfp_doorflow_requests_total')).toBe(0);
    h.workers = await startWorkers(
      { ...h.pipeline.processorDeps(), doorflow: client, metrics },
      { connection: h.pipeline.workerConnection(), lockDurationMs: 5_000 },
    );

    const good = roster(10);
    const bad = [
      { system_id: 'BAD1', first_name: '', last_name: 'Nameless', email: 'bad1@example.test', line: 12 },
      { system_id: 'BAD2', first_name: 'Mal', last_name: 'Formed', email: 'not-an-email', line: 13 },
    ];
    const run = await intake(h.pipeline.intakeDeps(), { source: 'report.csv', delivery: 'webhook' }, [
      ...good,
      ...bad,
    ]);
    const finished = await h.waitForRun(run.runId);
    expect(finished.counts.provisioned).toBe(6);
    expect(finished.dead).toBe(4);
    expect(finished.counts.invalid).toBe(2);

    // Ground truth: the simulator's people and credentials, and the receiver's verified deliveries.
    const people = h.sim.people();
    const credentials = h.sim.credentials();
    const delivered = new Map(h.receiver.accepted.map((d) => [d.credentialId, d]));
    const expected = [...good, ...bad]
      .map((row) => {
        const key = `sid:${row.system_id}`;
        const person = people.find((p) => p.system_id === row.system_id && !p.deleted);
        const live = person
          ? credentials.filter((c) => c.person_id === person.id && LIVE.has(c.status ?? ''))
          : [];
        expect(live.length).toBeLessThanOrEqual(1);
        const credential = live[0];
        const invalid = bad.includes(row as (typeof bad)[number]);
        return {
          line: row.line,
          key,
          name: `${row.first_name} ${row.last_name}`.trim(),
          person_id: person ? String(person.id) : '',
          credential_id: credential?.id ?? '',
          status: credential ? 'provisioned' : 'failed',
          step: credential ? '' : invalid ? 'intake' : 'credential',
          delivery_channel: 'webhook',
          delivered_at: credential ? delivered.get(credential.id)?.at : undefined,
          error_code: credential ? '' : invalid ? 'invalid_entry' : 'licence_limit',
        };
      })
      // Roster order: the outcome index keeps each entry's line through every move.
      .sort((a, b) => Number(a.line) - Number(b.line))
      .map(({ line: _line, ...row }) => row);
    expect(expected.filter((e) => e.status === 'provisioned')).toHaveLength(6);
    expect(expected.filter((e) => e.error_code === 'licence_limit')).toHaveLength(4);
    expect(expected.filter((e) => e.error_code === 'licence_limit' && e.person_id !== '')).toHaveLength(4);

    const cli = await runCli(['runs', 'report', run.runId, '--format', 'csv'], h.env);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const lines = cli.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(REPORT_COLUMNS.join(','));
    expect(lines).toHaveLength(1 + expected.length);
    lines.slice(1).forEach((line, i) => {
      const got = Object.fromEntries(REPORT_COLUMNS.map((c, j) => [c, cells(line)[j] ?? '']));
      const want = expected[i]!;
      const { delivered_at: wantAt, ...wantRest } = want;
      const { delivered_at: gotAt, ...gotRest } = got;
      expect(gotRest, `line ${i + 2}`).toEqual(wantRest);
      if (wantAt === undefined) expect(gotAt, `line ${i + 2}`).toBe('');
      else {
        // Recorded by the worker right after the receiver's 2xx.
        const ms = Date.parse(gotAt ?? '');
        expect(ms - wantAt, `line ${i + 2} delivered_at`).toBeGreaterThanOrEqual(0);
        expect(ms - wantAt, `line ${i + 2} delivered_at`).toBeLessThan(10_000);
      }
    });
    // No secrets: no invitation code from the simulator appears in the report.
    for (const c of credentials) if (c.invitation_code) expect(cli.stdout).not.toContain(c.invitation_code);

    // JSON format carries the same rows.
    const rows = await buildRunReport(
      {
        deliveries: h.pipeline.stores.deliveries,
        runs: h.pipeline.runs,
        pages: h.pipeline.stores.runPages,
        deadLetters: h.pipeline.deadLetters,
      },
      run.runId,
    );
    const json = await runCli(['runs', 'report', run.runId, '--format', 'json'], h.env);
    expect(JSON.parse(json.stdout)).toEqual(rows);

    // Acceptance 3: counters moved during the run, and the text still parses.
    const after = parsePromText(await metrics.registry!.metrics());
    const requests = sampleSum(after, 'dfp_doorflow_requests_total');
    const completed = sampleSum(after, 'dfp_jobs_processed_total', { outcome: 'completed' });
    console.info(
      `[ops acceptance 3] doorflow requests ${requests}, jobs completed ${completed}, credential 422s ${sampleValue(after, 'dfp_doorflow_requests_total', { route: '/api/3/people/:id/credentials', status: '422' })}`,
    );
    expect(requests).toBeGreaterThanOrEqual(10 + 10);
    expect(
      sampleValue(after, 'dfp_doorflow_requests_total', {
        route: '/api/3/people/:id/credentials',
        status: '422',
      }),
    ).toBe(4);
    expect(
      sampleValue(after, 'dfp_jobs_processed_total', { queue: 'delivery-webhook', outcome: 'completed' }),
    ).toBe(6);
    expect(sampleValue(after, 'dfp_job_failures_total', { queue: 'credential', code: 'licence_limit' })).toBe(
      4,
    );
    expect(sampleValue(after, 'dfp_deliveries_total', { channel: 'webhook', outcome: 'provisioned' })).toBe(
      6,
    );
    expect(
      sampleValue(after, 'dfp_job_duration_seconds_count', { queue: 'person', outcome: 'completed' }),
    ).toBe(10);
    await client.close();
  }, 120_000);
});
