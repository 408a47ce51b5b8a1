import express, { type Request, type Response, type Router } from 'express';
import { type DeadLetter, type DeadLetterStore, deadLetterId } from '../lib/store/dead-letters.ts';
import type { Logger } from '../lib/core/logger.ts';
import type { AuditLog } from '../lib/store/audit-log.ts';
import type { Queues } from '../lib/jobs/registry.ts';
import { type PagedEntry, parseCursor, type RunPages } from '../lib/store/run-pages.ts';
import { entryOutcome, groupCounts, type RunRecord, type RunStore, runSucceeded } from '../lib/store/runs.ts';
import { auditReplays, replayDeadLetters } from '../processors/services/replay.ts';
import type { AdminAuth, AdminPrincipal } from './admin-auth.ts';
import { html, isoTime, layout, postButton, type SafeHtml } from './admin-html.ts';
import { type RunControlDeps, runControlPanel } from './admin-run-control.ts';

/**
 * `/admin/runs`: runs with their counts and outcome, one run's entries by outcome with error codes,
 * and the dead-letter entries with replay buttons (per entry and per error code). Replay calls
 * `replayDeadLetters`, the same code as `dlq replay`. Pages show keys, ids, statuses and error
 * codes only: no invitation code or token is in any of the stores read here, and the renderer
 * blanks anything shaped like one anyway. Mount behind the admin auth middleware.
 */

export interface AdminRunsDeps {
  runs: RunStore;
  /** Paged reads of a run's entries by outcome. */
  pages: RunPages;
  deadLetters: DeadLetterStore;
  queues: Queues;
  auth: AdminAuth;
  logger: Logger;
  /** Where actions taken on these pages are recorded with the admin session that took them. */
  audit?: AuditLog;
  /** The Pause/Resume and Cancel buttons (admin-run-control.ts). */
  control: Pick<RunControlDeps, 'queues' | 'pipelinePause'>;
}

/** Entries per page of a run's entries (one outcome group, `?outcome=…&cursor=…`). */
const ENTRY_PAGE = 100;
const DEAD_LIMIT = 500;
/** Which group a run page opens on: the first that has entries. */
const GROUP_ORDER = ['failed', 'pending', 'provisioned', 'already_provisioned'];

function principal(res: Response): AdminPrincipal | undefined {
  return res.locals.admin as AdminPrincipal | undefined;
}

function page(res: Response, title: string, body: SafeHtml): void {
  const who = principal(res);
  res
    .set('Cache-Control', 'no-store')
    .set(
      'Content-Security-Policy',
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    )
    .set('X-Content-Type-Options', 'nosniff')
    .type('html')
    .send(layout(title, body, { logout: who?.via === 'cookie', ...(who?.csrf ? { csrf: who.csrf } : {}) }));
}

function runOutcome(run: RunRecord): { text: string; cls: string } {
  if (run.cancelledAt !== undefined) return { text: run.finishedAt ? 'cancelled' : 'cancelling', cls: 'bad' };
  if (run.finishedAt === undefined) return { text: 'running', cls: 'pending' };
  return runSucceeded(run)
    ? { text: 'succeeded', cls: 'ok' }
    : { text: 'finished with failures', cls: 'bad' };
}

function failedCount(run: RunRecord): number {
  return run.dead + (run.counts.invalid ?? 0);
}

/** The dead letters of a page's failed entries: their ids follow from (run, key, step), no scan. */
async function deadLettersOf(
  store: DeadLetterStore,
  runId: string,
  entries: PagedEntry[],
): Promise<DeadLetter[]> {
  const ids = entries
    .filter((e) => e.status.startsWith('dead:'))
    .map((e) => deadLetterId(runId, e.key, e.status.slice(5)));
  const letters = await Promise.all(ids.map((id) => store.get(id)));
  return letters.filter((d): d is DeadLetter => d !== undefined && d.state === 'dead');
}

/** Failures by error code from the run's counters, each with its replay-all button. */
function failureCodes(run: RunRecord, csrf: string | undefined, back: string): SafeHtml {
  const codes = Object.entries(run.failures).sort((a, b) => b[1] - a[1]);
  if (codes.length === 0) return html``;
  const items = codes.map(
    ([code, n]) =>
      html`<li data-code="${code}">${code}: ${n} ${postButton('/admin/dead-letters/replay', `Replay all ${code}`, csrf, { code, back, run: run.id })}</li>`,
  );
  return html`<h2>Failures by code</h2><ul id="failure-codes" class="codes">${items}</ul>`;
}

function groupLinks(base: string, groups: Record<string, number>, shown: string): SafeHtml {
  const names = [...new Set([...GROUP_ORDER, ...Object.keys(groups)])].filter((g) => (groups[g] ?? 0) > 0);
  const links = names.map((g) =>
    g === shown
      ? html`<li><strong>${g} (${groups[g] ?? 0})</strong></li>`
      : html`<li><a href="${base}?outcome=${encodeURIComponent(g)}">${g} (${groups[g] ?? 0})</a></li>`,
  );
  return html`<ul id="outcome-groups">${links}</ul>`;
}

function entryTable(group: string, count: number, entries: PagedEntry[]): SafeHtml {
  const failed = group === 'failed';
  const rows = entries.map(
    (e) => html`<tr data-entry="${e.key}"><td>${e.key}</td><td>${entryOutcome(e.status, e.detail)}</td>
<td>${e.detail.personId ?? ''}</td><td>${e.detail.credentialId ?? ''}</td><td>${e.detail.channel ?? ''}</td>
<td class="${e.detail.code && failed ? 'bad' : ''}">${failed ? (e.detail.code ?? '') : ''}</td>
<td>${isoTime(e.detail.at)}</td></tr>`,
  );
  return html`<h3 id="group-${group}">${group} (${count})</h3><table class="entries"><thead><tr><th>key</th>
<th>outcome</th><th>person id</th><th>credential id</th><th>channel</th><th>error code</th><th>updated (UTC)</th></tr></thead>
<tbody>${rows}</tbody></table>`;
}

/** A run page passes `perRun`: its replay-all buttons are under "Failures by code", from the counters. */
function deadTable(
  letters: DeadLetter[],
  csrf: string | undefined,
  back: string,
  perRun = false,
  total = letters.length,
): SafeHtml {
  if (letters.length === 0) return html`<p id="no-dead-letters">No dead-letter entries.</p>`;
  const shown = Math.min(letters.length, DEAD_LIMIT);
  // Counted over the records on the page; "Replay all" still replays every record of the code.
  const among = total > shown ? ` among the newest ${shown}` : '';
  const byCode = new Map<string, number>();
  for (const d of letters) byCode.set(d.code, (byCode.get(d.code) ?? 0) + 1);
  const codeButtons = perRun
    ? []
    : [...byCode].map(
        ([code, n]) =>
          html`<li>${code} (${n}${among}) ${postButton('/admin/dead-letters/replay', `Replay all ${code}`, csrf, { code, back })}</li>`,
      );
  const rows = letters.slice(0, DEAD_LIMIT).map(
    (
      d,
    ) => html`<tr data-dead-letter="${d.id}"><td>${d.id}</td><td><a href="/admin/runs/${encodeURIComponent(d.runId)}">${d.runId}</a></td>
<td>${d.key}</td><td>${d.queue}</td><td class="bad">${d.code}</td><td>${d.httpStatus ?? ''}</td><td>${d.message}</td>
<td>${d.attempts}</td><td>${isoTime(d.lastFailedAt)}</td>
<td>${postButton(`/admin/dead-letters/${encodeURIComponent(d.id)}/replay`, 'Replay', csrf, { back })}</td></tr>`,
  );
  const more =
    total > shown
      ? html`<p id="dead-letters-more">The newest ${shown} of ${total} are shown; <code>dlq list</code> lists them all.</p>`
      : html``;
  return html`<ul class="codes">${codeButtons}</ul>
<table id="dead-letters"><thead><tr><th>id</th><th>run</th><th>key</th><th>step</th><th>error code</th><th>HTTP</th>
<th>message</th><th>attempts</th><th>last failure (UTC)</th><th></th></tr></thead><tbody>${rows}</tbody></table>${more}`;
}

function flash(req: Request): SafeHtml {
  const replayed = req.query.replayed;
  if (typeof replayed !== 'string') return html``;
  const skipped = typeof req.query.skipped === 'string' ? req.query.skipped : '0';
  return html`<p class="flash" role="status">Replayed ${replayed} dead-letter entr${replayed === '1' ? 'y' : 'ies'}; skipped ${skipped}.</p>`;
}

export function adminRunsRouter(deps: AdminRunsDeps): Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '8kb' });

  router.get('/admin', (_req, res) => res.redirect(302, '/admin/runs'));

  router.get('/admin/runs', async (req, res) => {
    // Bounded whatever the backlog: the newest dead letters and how many there are in all.
    const [runs, letters, total] = await Promise.all([
      deps.runs.list(50),
      deps.deadLetters.newest(DEAD_LIMIT),
      deps.deadLetters.count(),
    ]);
    const rows = runs.map((run) => {
      const outcome = runOutcome(run);
      return html`<tr data-run="${run.id}"><td><a href="/admin/runs/${encodeURIComponent(run.id)}">${run.id}</a></td>
<td>${run.source}</td><td>${run.delivery}</td><td>${isoTime(run.createdAt)}</td><td>${isoTime(run.finishedAt)}</td>
<td>${run.total}</td><td>${run.counts.provisioned ?? 0}</td><td>${run.counts.already_provisioned ?? 0}</td>
<td>${failedCount(run)}</td><td class="${outcome.cls}">${outcome.text}</td></tr>`;
    });
    const csrf = principal(res)?.csrf;
    const control = await runControlPanel(deps.control, runs, csrf, req.query.control);
    page(
      res,
      'Runs',
      html`${flash(req)}${control}<table id="runs"><thead><tr><th>run</th><th>source</th><th>delivery</th><th>started (UTC)</th>
<th>finished (UTC)</th><th>entries</th><th>provisioned</th><th>already provisioned</th><th>failed</th><th>outcome</th></tr></thead>
<tbody>${rows}</tbody></table>${runs.length === 0 ? html`<p>No runs yet.</p>` : html``}
<h2>Dead letters</h2>${deadTable(letters, csrf, '/admin/runs', false, total)}`,
    );
  });

  router.get('/admin/runs/:id', async (req, res) => {
    await deps.pages.ready(req.params.id);
    const run = await deps.runs.get(req.params.id);
    if (!run) {
      res.status(404);
      page(res, 'Run not found', html`<p>No run ${req.params.id}.</p>`);
      return;
    }
    const groups = groupCounts(run);
    const wanted = typeof req.query.outcome === 'string' ? req.query.outcome : undefined;
    const shown = wanted ?? GROUP_ORDER.find((g) => (groups[g] ?? 0) > 0) ?? 'pending';
    const cursor = parseCursor(req.query.cursor);
    const entries = await deps.pages.page(run.id, shown, {
      limit: ENTRY_PAGE,
      ...(cursor !== undefined ? { cursor } : {}),
    });
    // The dead letters shown are those of one page of failed entries: bounded whatever the run's size.
    const failedPage =
      shown === 'failed' ? entries : await deps.pages.page(run.id, 'failed', { limit: ENTRY_PAGE });
    const letters = await deadLettersOf(deps.deadLetters, run.id, failedPage.entries);
    const outcome = runOutcome(run);
    const counts = Object.entries(run.counts)
      .filter(([, n]) => n > 0)
      .map(([status, n]) => html`<li>${status}: ${n}</li>`);
    const base = `/admin/runs/${encodeURIComponent(run.id)}`;
    page(
      res,
      `Run ${run.id}`,
      html`${flash(req)}<p>Source ${run.source}; delivery ${run.delivery}; started ${isoTime(run.createdAt)}; finished
${isoTime(run.finishedAt) || '—'}; outcome <strong class="${outcome.cls}" id="run-outcome">${outcome.text}</strong>.
<a href="${base}/live" id="live-link">Live view</a></p>
<ul id="run-counts"><li>entries: ${run.total}</li>${counts}</ul>
${failureCodes(run, principal(res)?.csrf, base)}
<h2>Entries</h2>${groupLinks(base, groups, shown)}${entryTable(shown, groups[shown] ?? 0, entries.entries)}
${entries.next ? html`<p><a id="next-page" href="${base}?outcome=${encodeURIComponent(shown)}&cursor=${entries.next}">Next ${ENTRY_PAGE} →</a></p>` : html``}
<h2>Dead letters</h2>${deadTable(letters, principal(res)?.csrf, base, true)}`,
    );
  });

  const backTo = (value: unknown): string =>
    typeof value === 'string' && /^\/admin\/runs(\/[\w.-]+)?$/.test(value) ? value : '/admin/runs';

  const replay = async (req: Request, res: Response, letters: DeadLetter[]) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (!deps.auth.checkCsrf(res, body._csrf)) {
      res.status(403).json({ error: 'forbidden', message: 'missing or wrong CSRF token' });
      return;
    }
    const result = await replayDeadLetters(letters, {
      deadLetters: deps.deadLetters,
      queues: deps.queues,
      runs: deps.runs,
    });
    await auditReplays(deps.audit, result.replayed, {
      actor: 'admin',
      operator: principal(res)?.operator ?? 'admin',
    });
    deps.logger.info(
      { replayed: result.replayed.length, skipped: result.skipped.length, via: principal(res)?.via },
      'dead letters replayed from the admin page',
    );
    const back = backTo(body.back);
    res.redirect(303, `${back}?replayed=${result.replayed.length}&skipped=${result.skipped.length}`);
  };

  router.post('/admin/dead-letters/replay', form, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body.code !== 'string' || body.code === '') {
      res.status(400).json({ error: 'bad_request', message: 'code is required' });
      return;
    }
    const runId = typeof body.run === 'string' && body.run !== '' ? body.run : undefined;
    await replay(req, res, await deps.deadLetters.list({ code: body.code, ...(runId ? { runId } : {}) }));
  });

  router.post('/admin/dead-letters/:id/replay', form, async (req, res) => {
    const letter = await deps.deadLetters.get(req.params.id);
    if (!letter) {
      res.status(404).json({ error: 'not_found', message: 'no such dead-letter entry' });
      return;
    }
    await replay(req, res, [letter]);
  });

  return router;
}
