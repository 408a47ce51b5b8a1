import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import express, { type Response, type Router } from 'express';
import type { RedisConnection } from '../lib/core/redis.ts';
import type { RedisKeys } from '../lib/store/keys.ts';
import { type LiveDeps, liveSnapshot } from '../lib/ops/run-live.ts';
import type { RunPages } from '../lib/store/run-pages.ts';
import type { RunStore } from '../lib/store/runs.ts';
import { html, layout } from './admin-html.ts';
import { LIVE_SCRIPT } from './admin-live-script.ts';

/**
 * `/admin/runs/:id/live`: the live view of a run during an onboarding event — per-step progress
 * bars, people per minute, an ETA, DoorFlow requests per second against the budget and failures
 * by code as small uPlot charts over the run's time, refreshing by itself from
 * `/admin/runs/:id/live.json` (counters and the per-minute series only: a poll costs the same at a
 * million entries as at ten). uPlot's dist file is served from node_modules, no build step.
 * Mount behind the admin auth middleware.
 */

export interface AdminLiveDeps {
  redis: RedisConnection;
  keys: RedisKeys;
  runs: RunStore;
  pages: RunPages;
  budgetPerSecond: number;
}

const require = createRequire(import.meta.url);
const UPLOT_DIST = dirname(require.resolve('uplot'));
const REFRESH_MS = 2_000;

function secure(res: Response): Response {
  return res
    .set('Cache-Control', 'no-store')
    .set(
      'Content-Security-Policy',
      "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
    )
    .set('X-Content-Type-Options', 'nosniff');
}

export function adminLiveRouter(deps: AdminLiveDeps): Router {
  const router = express.Router();
  const live: LiveDeps = deps;

  router.get('/admin/assets/uplot.js', (_req, res) => {
    secure(res).sendFile(join(UPLOT_DIST, 'uPlot.iife.min.js'));
  });
  router.get('/admin/assets/uplot.css', (_req, res) => {
    secure(res).sendFile(join(UPLOT_DIST, 'uPlot.min.css'));
  });
  router.get('/admin/assets/run-live.js', (_req, res) => {
    secure(res).type('application/javascript').send(LIVE_SCRIPT);
  });

  router.get('/admin/runs/:id/live.json', async (req, res) => {
    const snapshot = await liveSnapshot(live, req.params.id);
    if (!snapshot) {
      res.status(404).json({ error: 'not_found' });
      return;
    }
    secure(res).json(snapshot);
  });

  router.get('/admin/runs/:id/live', async (req, res) => {
    const run = await deps.runs.get(req.params.id);
    if (!run) {
      secure(res)
        .status(404)
        .type('html')
        .send(layout('Run not found', html`<p>No run ${req.params.id}.</p>`));
      return;
    }
    const base = `/admin/runs/${encodeURIComponent(run.id)}`;
    const head = html`<link rel="stylesheet" href="/admin/assets/uplot.css">
<script src="/admin/assets/uplot.js" defer></script><script src="/admin/assets/run-live.js" defer></script>`;
    const body = html`<p><a href="${base}">Entries and dead letters</a> · refreshes every ${REFRESH_MS / 1000} s ·
<span id="live-updated">loading…</span></p>
<div id="live" data-source="${base}/live.json" data-refresh="${REFRESH_MS}">
<p id="live-figures"></p><div id="live-steps"></div>
<div class="charts"><figure><figcaption>People per minute</figcaption><div id="chart-people"></div></figure>
<figure><figcaption>DoorFlow requests/s (fleet) and the budget</figcaption><div id="chart-requests"></div></figure>
<figure><figcaption>Failures by code per minute</figcaption><div id="chart-failures"></div></figure></div></div>`;
    secure(res)
      .type('html')
      .send(layout(`Live: run ${run.id}`, body, { head }));
  });
  return router;
}
