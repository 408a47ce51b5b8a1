import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { createMetrics } from '../../src/lib/core/metrics.ts';
import { intake } from '../../src/producers/intake.ts';
import { buildServer, type RunningServer } from '../../src/server/app.ts';
import { opsHttpModule } from '../../src/server/ops.ts';
import { syncDepsOf } from '../../src/processors/sync.ts';
import { planActions } from '../../src/producers/sync/plan-actions.ts';
import { runSync } from '../../src/producers/sync/sync.ts';
import { waitForSync } from '../../src/producers/sync/sync-progress.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';

/**
 * Acceptance 1 (and run control, acceptance 3): headless Chromium (Debian's package, driven by playwright-core) signs in, opens the
 * queues dashboard and the runs page, sees the finished run and its dead letters, clicks replay on
 * one entry and sees that entry complete, then opens the live run view and sees its charts drawn.
 * Screenshots go to test-artifacts/ (gitignored).
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/**
 * A newcomer with only Node and redis-server can run `npm test`: without Chromium this test is
 * skipped with a warning. Never in CI (`CI=true`, where `.ci/run` installs it): there it runs, and
 * a missing browser fails it.
 */
const IN_CI = /^(1|true)$/i.test(process.env.CI ?? '');
const SKIP_NO_BROWSER = !IN_CI && !existsSync(CHROMIUM);
if (SKIP_NO_BROWSER) {
  console.warn(
    `warning: admin browser test SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH); CI=true never skips it`,
  );
}
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const TOKEN = 'browser-admin-token-6c1f0e2d9a-57b4beee67feaa056a338e6969abd679';

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
}

describe.skipIf(SKIP_NO_BROWSER)('admin pages in a real browser', () => {
  let h: Harness | undefined;
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  afterEach(async () => {
    await browser?.close();
    await server?.close();
    await h?.close();
    browser = undefined;
    server = undefined;
    h = undefined;
  });

  it('logs in, sees a finished run and its dead letters, replays one and sees it complete', async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    // One job per step, so the licence-limit 422s are failed `credential` jobs Bull Board can show.
    h = await startHarness({ sim: { licenceLimit: 3 }, env: { ADMIN_TOKEN: TOKEN, JOBS_BATCH_SIZE: '1' } });
    await h.startWorkers();
    const run = await intake(
      h.pipeline.intakeDeps(),
      { source: 'onboarding.csv', delivery: 'webhook' },
      roster(5),
    );
    const finished = await h.waitForRun(run.runId);
    expect(finished.counts.provisioned).toBe(3);
    expect(finished.dead).toBe(2);

    const built = buildServer({
      logger: silentLogger(),
      modules: [
        opsHttpModule({
          config: h.config,
          redis: h.pipeline.redis,
          queues: h.pipeline.queues,
          runs: h.pipeline.runs,
          deadLetters: h.pipeline.deadLetters,
          workers: h.pipeline.stores.workers,
          metrics: createMetrics(),
          logger: silentLogger(),
          requireWorkers: false,
        }),
      ],
    });
    server = await built.start(0, '127.0.0.1');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(20_000);

    // Not signed in: the admin answers 401 with the login form.
    const denied = await page.goto(`${server.url}/admin/runs`);
    expect(denied?.status()).toBe(401);
    await shot(page, 'admin-1-login');
    await page.fill('input[name="token"]', TOKEN);
    await Promise.all([page.waitForURL(`${server.url}/admin/runs`), page.click('button[type="submit"]')]);

    // The queues dashboard (Bull Board) renders every queue.
    await page.goto(`${server.url}/admin/queues`);
    await page.getByText('credential', { exact: false }).first().waitFor();
    await page.getByText('delivery-webhook', { exact: false }).first().waitFor();
    await page.waitForLoadState('networkidle');
    await page.getByText('Loading', { exact: false }).first().waitFor({ state: 'detached' });
    await shot(page, 'admin-2-queues');
    // The credential queue's failed jobs (the licence-limit 422s) are there with retry available.
    await page.goto(`${server.url}/admin/queues/queue/credential?status=failed`);
    await page.getByText('licence_limit', { exact: false }).first().waitFor();
    await shot(page, 'admin-2b-queue-credential-failed');

    // The runs page: the finished run with its counts and the two dead letters.
    await page.goto(`${server.url}/admin/runs`);
    const runRow = page.locator(`tr[data-run="${run.runId}"]`);
    await expect(runRow.textContent()).resolves.toContain('finished with failures');
    const deadRows = page.locator('#dead-letters tr[data-dead-letter]');
    expect(await deadRows.count()).toBe(2);
    await expect(deadRows.first().textContent()).resolves.toContain('licence_limit');
    await shot(page, 'admin-3-runs');
    const html = await page.content();
    for (const c of h.sim.credentials()) if (c.invitation_code) expect(html).not.toContain(c.invitation_code);
    expect(html).not.toContain(TOKEN);

    // Raise the licence limit, then replay one entry from the page.
    h.sim.configure({ licenceLimit: 0 });
    const first = deadRows.first();
    const letterId = await first.getAttribute('data-dead-letter');
    const letter = await h.pipeline.deadLetters.get(letterId ?? '');
    expect(letter?.code).toBe('licence_limit');
    await Promise.all([page.waitForURL(/replayed=1/), first.getByRole('button', { name: 'Replay' }).click()]);
    await expect(page.locator('.flash').textContent()).resolves.toContain('Replayed 1 dead-letter entry');
    expect(await page.locator('#dead-letters tr[data-dead-letter]').count()).toBe(1);

    // The run page shows the replayed entry provisioned once the workers are done with it.
    const entryRow = page.locator(`#group-provisioned ~ table tr[data-entry="${letter?.key}"]`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      await page.goto(`${server.url}/admin/runs/${run.runId}?outcome=provisioned`);
      // The run is read before its page of entries: wait for both to show the finish.
      const finishedRun = (await page.locator('#run-outcome').textContent()) === 'finished with failures';
      if ((await entryRow.count()) > 0 && finishedRun) break;
      if (Date.now() > deadline) throw new Error('the replayed entry did not complete in 60 s');
      await page.waitForTimeout(250);
    }
    await expect(entryRow.textContent()).resolves.toContain('provisioned');
    await expect(page.locator('#run-outcome').textContent()).resolves.toBe('finished with failures');
    await expect(page.locator('#group-provisioned').textContent()).resolves.toBe('provisioned (4)');
    await shot(page, 'admin-4-replayed');

    // Acceptance 3: the live run view draws its charts (uPlot canvases) and progress bars by itself.
    await Promise.all([page.waitForURL(/\/live$/), page.click('#live-link')]);
    await page.locator('#live[data-charts="rendered"]').waitFor();
    for (const id of ['chart-people', 'chart-requests', 'chart-failures']) {
      expect(await page.locator(`#${id} canvas`).count(), id).toBe(1);
      // The run took a minute or two: its time axes span minutes, also while a chart has one point.
      const span = Number(await page.locator(`#${id}`).getAttribute('data-x-span'));
      expect(span, `${id} x span (s)`).toBeGreaterThan(0);
      expect(span, `${id} x span (s)`).toBeLessThanOrEqual(3_600);
    }
    await expect(page.locator('#live-figures').textContent()).resolves.toMatch(
      /5 of 5 settled · [\d.]+ people\/min/,
    );
    expect(await page.locator('#live-steps .step progress').count()).toBeGreaterThanOrEqual(3);
    const legend = await page.locator('#chart-failures').textContent();
    expect(legend).toContain('licence_limit');
    await shot(page, 'admin-5-live');
    console.info(`[acceptance 3] live run view screenshot: ${ARTIFACTS}admin-5-live.png`);
  }, 150_000);

  it('/admin/plans: a quarantined deactivation burst is rejected (DoorFlow untouched), then one is approved and applied', async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    h = await startHarness({ env: { ADMIN_TOKEN: TOKEN, SYNC_SCOPE_PREFIX: 'B' } });
    const harness = h;
    await harness.startWorkers();
    const dir = await mkdtemp(join(tmpdir(), 'dfp-plans-browser-'));
    const deps = syncDepsOf(harness.pipeline.processorDeps());
    const file = join(dir, 'staff.csv');
    const sync = async (n: number) => {
      const lines = Array.from({ length: n }, (_, i) => `B${i + 1},Bea${i + 1},Ng,b${i + 1}@example.test`);
      await writeFile(file, ['Employee ID,First Name,Last Name,Email', ...lines].join('\n'));
      return await runSync(deps, { source: 'csv', file, maxOffboard: '10%' });
    };
    try {
      const first = await sync(30);
      await waitForSync(deps, String(first.runId));
      const burst = await sync(10);
      expect(burst.refused).toBe(true);
      const rejectId = String(burst.quarantined?.id);
      const writes = harness.sim.stats().writeCount;

      const built = buildServer({
        logger: silentLogger(),
        modules: [
          opsHttpModule({
            config: harness.config,
            redis: harness.pipeline.redis,
            queues: harness.pipeline.queues,
            runs: harness.pipeline.runs,
            deadLetters: harness.pipeline.deadLetters,
            workers: harness.pipeline.stores.workers,
            metrics: createMetrics(),
            logger: silentLogger(),
            requireWorkers: false,
            plans: planActions(deps),
          }),
        ],
      });
      server = await built.start(0, '127.0.0.1');
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu'],
      });
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.setDefaultTimeout(20_000);
      const denied = await page.goto(`${server.url}/admin/plans`);
      expect(denied?.status()).toBe(401);
      await page.fill('input[name="token"]', TOKEN);
      // Signing in lands on the page asked for.
      await Promise.all([page.waitForURL(`${server.url}/admin/plans`), page.click('button[type="submit"]')]);

      // The list, then the plan's diff: 20 leavers by name.
      await page.goto(`${server.url}/admin/plans`);
      const row = page.locator(`tr[data-plan="${rejectId}"]`);
      await expect(row.textContent()).resolves.toContain('20 people would be offboarded');
      await page.click(`a[href="/admin/plans/${rejectId}"]`);
      expect(await page.locator('#plan-offboard tr[data-offboard]').count()).toBe(20);
      await expect(page.locator('#plan-offboard').textContent()).resolves.toContain('Bea11 Ng');
      await shot(page, 'admin-5-plan');
      // A form without the session's CSRF token is refused.
      const forged = await page.request.post(`${server.url}/admin/plans/${rejectId}/approve`, {
        form: { _csrf: 'forged' },
      });
      expect(forged.status()).toBe(403);

      await Promise.all([page.waitForURL(/rejected=/), page.getByRole('button', { name: 'Reject' }).click()]);
      await expect(page.locator('.flash').textContent()).resolves.toContain('rejected: nothing was changed');
      await page.locator('#no-plans').waitFor();
      expect(harness.sim.stats().writeCount).toBe(writes);

      const again = await sync(10);
      const approveId = String(again.quarantined?.id);
      await page.goto(`${server.url}/admin/plans`);
      await Promise.all([
        page.waitForURL(/approved=/),
        page.locator(`tr[data-plan="${approveId}"]`).getByRole('button', { name: 'Approve' }).click(),
      ]);
      await expect(page.locator('.flash').textContent()).resolves.toContain(`Plan ${approveId} approved`);
      await shot(page, 'admin-6-plan-approved');
      const runId = new URL(page.url()).searchParams.get('run');
      const progress = await waitForSync(deps, String(runId));
      expect(progress.offboarded).toBe(20);
      expect(harness.sim.people().filter((p) => p.enabled === false)).toHaveLength(20);

      const decisions: { action: string; operator?: string }[] = [];
      for await (const e of harness.pipeline.audit.read())
        if (e.action.startsWith('sync.plan.')) decisions.push(e);
      expect(decisions.map((d) => d.action)).toEqual(['sync.plan.reject', 'sync.plan.approve']);
      for (const d of decisions) expect(d.operator).toMatch(/^admin session [0-9a-f]+ \(cookie\)$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 150_000);

  it('pauses the pipeline, cancels a queued run and resumes from the runs page', async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    h = await startHarness({ env: { ADMIN_TOKEN: TOKEN } });
    await h.startWorkers();
    server = await serveAdmin(h);
    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(20_000);
    await page.goto(`${server.url}/login`);
    await page.fill('input[name="token"]', TOKEN);
    await Promise.all([page.waitForURL(`${server.url}/admin/runs`), page.click('button[type="submit"]')]);
    await expect(page.locator('#pipeline-state').textContent()).resolves.toBe('pipeline running');
    // The control routes need the session and its CSRF token.
    const anonymous = await fetch(`${server.url}/admin/pipeline/pause`, { method: 'POST' });
    expect(anonymous.status).toBe(401);
    const forged = await page.request.post(`${server.url}/admin/pipeline/pause`, { form: { _csrf: 'x' } });
    expect(forged.status()).toBe(403);
    expect(await h.pipeline.queues.get('person').isPaused()).toBe(false);

    // Pause: the fleet takes no pipeline job, so a run imported now waits at its first step.
    await Promise.all([
      page.waitForURL(/control=paused/),
      page.getByRole('button', { name: 'Pause' }).click(),
    ]);
    await expect(page.locator('#pipeline-state').textContent()).resolves.toMatch(
      /^pipeline PAUSED since .* by admin session \w+ \(cookie\)/,
    );
    const run = await intake(
      h.pipeline.intakeDeps(),
      { source: 'paused.csv', delivery: 'webhook' },
      roster(5),
    );
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await h.pipeline.runs.get(run.runId))?.counts.person).toBe(5);
    expect(h.sim.stats().writeCount).toBe(0);
    await page.goto(`${server.url}/admin/runs`);
    await shot(page, 'admin-5-paused');

    // Cancel the queued run: its steps are removed and its entries end cancelled.
    const cancelItem = page.locator(`#live-runs li[data-cancel-run="${run.runId}"]`);
    await Promise.all([
      page.waitForURL(/control=cancelled/),
      cancelItem.getByRole('button', { name: 'Cancel' }).click(),
    ]);
    await expect(page.locator('#control-flash').textContent()).resolves.toContain('Run cancelled');
    await expect(page.locator(`tr[data-run="${run.runId}"]`).textContent()).resolves.toContain('cancelled');
    const cancelled = await h.pipeline.runs.get(run.runId);
    expect(cancelled?.counts.cancelled).toBe(5);
    expect(cancelled?.finishedAt).toBeDefined();
    await shot(page, 'admin-6-cancelled');

    // Resume: the next run goes through.
    await Promise.all([
      page.waitForURL(/control=resumed/),
      page.getByRole('button', { name: 'Resume' }).click(),
    ]);
    await expect(page.locator('#pipeline-state').textContent()).resolves.toBe('pipeline running');
    const next = await intake(
      h.pipeline.intakeDeps(),
      { source: 'after.csv', delivery: 'webhook' },
      roster(3, 10),
    );
    expect((await h.waitForRun(next.runId)).counts.provisioned).toBe(3);
    expect(h.sim.stats().people).toBe(3);
    const html = await page.content();
    expect(html).not.toContain(TOKEN);
  }, 120_000);
});

function serveAdmin(harness: Harness): Promise<RunningServer> {
  return buildServer({
    logger: silentLogger(),
    modules: [
      opsHttpModule({
        config: harness.config,
        redis: harness.pipeline.redis,
        queues: harness.pipeline.queues,
        runs: harness.pipeline.runs,
        deadLetters: harness.pipeline.deadLetters,
        workers: harness.pipeline.stores.workers,
        metrics: createMetrics(),
        logger: silentLogger(),
        requireWorkers: false,
      }),
    ],
  }).start(0, '127.0.0.1');
}

function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
  });
}
