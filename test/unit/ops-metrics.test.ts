import { describe, expect, it } from 'vitest';
import { createMetrics, noopMetrics, routeLabel } from '../../src/lib/core/metrics.ts';
import { parsePromText, sampleSum, sampleValue } from '../helpers/ops-prom-text.ts';

describe('metrics', () => {
  it('route labels are templates: ids, hashids and query strings never become labels', () => {
    expect(routeLabel('/api/3/people/123/credentials/AbC9xyz?ack_token=secret')).toBe(
      '/api/3/people/:id/credentials/:id',
    );
    expect(routeLabel('https://api.doorflow.com/api/3/people?system_id=E1')).toBe('/api/3/people');
    expect(routeLabel('/api/3/people/:id')).toBe('/api/3/people/:id');
  });

  it('exposes valid Prometheus text whose counters move with the recorders', async () => {
    const m = createMetrics({ defaultMetrics: true });
    const before = parsePromText(await m.registry!.metrics());
    expect(sampleSum(before, 'dfp_doorflow_requests_total')).toBe(0);

    m.doorflowRequest('/api/3/people/7', 201, 40);
    m.doorflowRequest('/api/3/people/8', 201, 60);
    m.doorflowRequest('/api/3/people/9/credentials', 429);
    m.doorflowRequest('/api/3/people', 'error');
    m.job('person', 'completed', 120);
    m.job('credential', 'failed', 80, 'licence_limit');
    m.budgetWait(250);
    m.delivery('webhook', 'sent');
    m.syncPlan({ create: 3, update: 1, offboard: 0, unchanged: 10 });
    m.setScrapeSources({
      jobCounts: async () => ({ person: { waiting: 4, active: 1 } }),
      deadLetterSize: async () => 2,
      credentialsByStatus: async () => ({ invited: 5, active: 3 }),
      stuckProvisioning: async () => {
        throw new Error('source down: the gauge says NaN, the scrape still works');
      },
    });

    const after = parsePromText(await m.registry!.metrics());
    expect(
      sampleValue(after, 'dfp_doorflow_requests_total', { route: '/api/3/people/:id', status: '201' }),
    ).toBe(2);
    expect(
      sampleValue(after, 'dfp_doorflow_rate_limited_total', { route: '/api/3/people/:id/credentials' }),
    ).toBe(1);
    expect(sampleValue(after, 'dfp_doorflow_requests_total', { status: 'error' })).toBe(1);
    expect(sampleValue(after, 'dfp_jobs_processed_total', { queue: 'person', outcome: 'completed' })).toBe(1);
    expect(sampleValue(after, 'dfp_job_failures_total', { queue: 'credential', code: 'licence_limit' })).toBe(
      1,
    );
    expect(
      sampleValue(after, 'dfp_job_duration_seconds_count', { queue: 'person', outcome: 'completed' }),
    ).toBe(1);
    expect(
      sampleValue(after, 'dfp_job_duration_seconds_sum', { queue: 'person', outcome: 'completed' }),
    ).toBeCloseTo(0.12);
    expect(sampleValue(after, 'dfp_budget_wait_seconds_count')).toBe(1);
    expect(sampleValue(after, 'dfp_deliveries_total', { channel: 'webhook', outcome: 'sent' })).toBe(1);
    expect(sampleValue(after, 'dfp_sync_plan_size', { action: 'create' })).toBe(3);
    expect(sampleValue(after, 'dfp_jobs', { queue: 'person', state: 'waiting' })).toBe(4);
    expect(sampleValue(after, 'dfp_dead_letters')).toBe(2);
    expect(sampleValue(after, 'dfp_credentials', { status: 'active' })).toBe(3);
    expect(sampleValue(after, 'dfp_stuck_provisioning')).toBeNaN();
    expect(sampleValue(after, 'dfp_process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);
  });

  it('each createMetrics has its own registry (no global default registry)', async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.delivery('sms', 'sent');
    expect(sampleSum(parsePromText(await b.registry!.metrics()), 'dfp_deliveries_total')).toBe(0);
    expect(sampleSum(parsePromText(await a.registry!.metrics()), 'dfp_deliveries_total')).toBe(1);
  });

  it('the no-op recorder accepts every call', () => {
    expect(() => {
      noopMetrics.job('x', 'failed', 1, 'c');
      noopMetrics.doorflowRequest('/x', 500);
      noopMetrics.setScrapeSources({});
    }).not.toThrow();
    expect(noopMetrics.registry).toBeUndefined();
  });

  it('the parser rejects malformed exposition text (so the check above can fail)', () => {
    expect(() => parsePromText('# TYPE x counter\nx{a="1} 1\n')).toThrow();
    expect(() => parsePromText('y 1\n')).toThrow(/TYPE/);
    expect(() => parsePromText('# TYPE x counter\nx one\n')).toThrow(/bad value/);
    expect(() => parsePromText('# TYPE x counter\nx 1\nx 2\n')).toThrow(/duplicate/);
    expect(() =>
      parsePromText('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'),
    ).toThrow(/cumulative/);
    expect(() => parsePromText('# TYPE x counter\nx 1')).toThrow(/newline/);
  });

  it('exports the event loop delay p99 since the previous scrape: a blocked loop shows, then clears', async () => {
    const m = createMetrics({ defaultMetrics: false });
    await m.registry!.metrics(); // starts a fresh window
    await new Promise((r) => setTimeout(r, 50)); // the monitor's first samples
    // Block the loop for 300 ms (what a handler reading a whole run did), then let the monitor sample.
    const until = Date.now() + 300;
    while (Date.now() < until) {
      /* busy */
    }
    await new Promise((r) => setTimeout(r, 50));
    const blocked = sampleValue(
      parsePromText(await m.registry!.metrics()),
      'dfp_event_loop_delay_p99_seconds',
    );
    // A lower bound only: load can make the delay longer, never shorter.
    expect(blocked).toBeGreaterThanOrEqual(0.25);
    await new Promise((r) => setTimeout(r, 100));
    const after = sampleValue(parsePromText(await m.registry!.metrics()), 'dfp_event_loop_delay_p99_seconds');
    expect(after).toBeLessThan(blocked ?? 0);
  });
});
