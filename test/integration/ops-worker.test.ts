import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { BIN, killAndWait, runCli } from '../helpers/cli.ts';
import { parsePromText, sampleSum, sampleValue } from '../helpers/ops-prom-text.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

/**
 * The ops side of a real `worker` process: it heartbeats for /readyz (and stops on SIGTERM),
 * serves its own /metrics with --metrics-port, and its run watcher POSTs the run summary to
 * NOTIFY_WEBHOOK_URL once the run finishes.
 */

async function startHook(): Promise<{ url: string; bodies: Record<string, unknown>[]; server: Server }> {
  const bodies: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString();
    });
    req.on('end', () => {
      bodies.push(JSON.parse(raw) as Record<string, unknown>);
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`, bodies, server };
}

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 45_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('worker process: heartbeat, /metrics, run notification', () => {
  let h: Harness | undefined;
  let child: ChildProcess | undefined;
  let hook: Awaited<ReturnType<typeof startHook>> | undefined;
  afterEach(async () => {
    if (child) await killAndWait(child, 'SIGKILL');
    hook?.server.closeAllConnections();
    await new Promise<void>((resolve) => (hook ? hook.server.close(() => resolve()) : resolve()));
    await h?.close();
    child = undefined;
    hook = undefined;
    h = undefined;
  });

  it('beats, exposes metrics that move, notifies once, and leaves readiness on SIGTERM', async () => {
    hook = await startHook();
    h = await startHarness({ sim: { licenceLimit: 4 } });
    const env = { ...h.env, NOTIFY_WEBHOOK_URL: hook.url, LOG_LEVEL: 'info', SERVE_HOST: '127.0.0.1' };
    child = spawn(process.execPath, [BIN, 'worker', '--metrics-port', '0'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DFP_USE_SOURCE: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout?.on('data', (c: Buffer) => {
      log += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      log += c.toString();
    });
    const port = await until('the worker metrics port', () => {
      const m = /"port":(\d+)[^\n]*worker metrics served/.exec(log);
      return m ? Number(m[1]) : undefined;
    });
    const prefix = h.config.queuePrefix;
    const redis = h.pipeline.redis;
    const workers = h.pipeline.stores.workers;
    expect(await workers.live()).toHaveLength(1);

    const metricsText = async () =>
      parsePromText(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    // Nothing processed yet but the schedulers' ticks every worker registers: the janitor's first
    // (at once) and the lifecycle scheduler's (every LIFECYCLE_TICK).
    const atStart = await metricsText();
    expect(
      sampleSum(atStart, 'dfp_jobs_processed_total') -
        sampleSum(atStart, 'dfp_jobs_processed_total', { queue: 'janitor' }) -
        sampleSum(atStart, 'dfp_jobs_processed_total', { queue: 'lifecycle-tick' }),
    ).toBe(0);

    const run = await intake(
      h.pipeline.intakeDeps(),
      { source: 'worker.csv', delivery: 'webhook' },
      roster(6),
    );
    await h.waitForRun(run.runId);
    const body = await until('the run notification', () => hook?.bodies[0]);
    expect(body).toMatchObject({
      event: 'run.finished',
      run_id: run.runId,
      outcome: 'completed_with_failures',
      total: 6,
      counts: { provisioned: 4, already_provisioned: 0, failed: 2 },
      failures_by_code: { licence_limit: 2 },
    });

    const after = await metricsText();
    const requests = sampleSum(after, 'dfp_doorflow_requests_total');
    console.info(`[ops] worker /metrics after the run: ${requests} DoorFlow requests`);
    expect(requests).toBeGreaterThanOrEqual(12);
    expect(sampleValue(after, 'dfp_jobs_processed_total', { queue: 'person', outcome: 'completed' })).toBe(6);
    expect(sampleValue(after, 'dfp_runs_finished_total', { outcome: 'completed_with_failures' })).toBe(1);
    expect(sampleValue(after, 'dfp_audit_records_total', { action: 'person.create' })).toBe(6);

    // The audit log holds the worker's writes, attributed to the worker and the run.
    const audit = await redis.xrange(`${prefix}:audit`, '-', '+');
    const actions = audit.map(
      ([, fields]) => JSON.parse(fields[1] ?? '{}') as { action: string; runId: string; actor: string },
    );
    expect(actions.filter((a) => a.action === 'credential.create')).toHaveLength(4);
    expect(actions.every((a) => a.runId === run.runId && a.actor.startsWith('worker:'))).toBe(true);

    // `audit export` (the real CLI) gives the same entries as CSV, with no code or token in it.
    const csv = await runCli(
      ['audit', 'export', '--since', '1h', '--run', run.runId, '--format', 'csv'],
      h.env,
    );
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('at,actor,run_id,key,action,target_type,target_id,before,after,operator');
    expect(lines).toHaveLength(1 + audit.length);
    expect(lines.filter((l) => l.includes(',credential.create,'))).toHaveLength(4);
    expect(csv.stdout).not.toMatch(/[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/);
    expect(csv.stdout).not.toContain(h.sim.accessToken);

    await killAndWait(child, 'SIGTERM');
    expect(child.exitCode).toBe(0);
    expect(await workers.live()).toHaveLength(0);
    // Exactly one notification for the one finish.
    expect(hook.bodies).toHaveLength(1);
  }, 120_000);
});
