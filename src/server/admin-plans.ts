import express, { type Response, type Router } from 'express';
import type { Logger } from '../lib/core/logger.ts';
import type { PlanSummary } from '../lib/store/sync-plans.ts';
import type { PlanActions } from '../producers/sync/plan-actions.ts';
import type { OpenedPlan } from '../producers/sync/quarantine.ts';
import type { AdminAuth, AdminPrincipal } from './admin-auth.ts';
import { html, isoTime, layout, postButton, type SafeHtml } from './admin-html.ts';

/**
 * `/admin/plans`: sync (and SCIM) plans a safety check quarantined, each with its figures and why,
 * `/admin/plans/ID` with its diff (joiners, movers, leavers), and **Approve** / **Reject** buttons
 * (CSRF-protected forms) that call the same plan actions as `sync approve` / `sync reject`, audited
 * with the admin session that clicked. Mount behind the admin auth middleware.
 */

export interface AdminPlansDeps {
  plans: PlanActions;
  auth: AdminAuth;
  logger: Logger;
}

/** Rows shown per section of a plan's diff. */
const DIFF_LIMIT = 500;

function who(res: Response): AdminPrincipal | undefined {
  return res.locals.admin as AdminPrincipal | undefined;
}

function sendPlanPage(res: Response, title: string, body: SafeHtml, status = 200): void {
  const principal = who(res);
  const frame = layout(title, body, {
    logout: principal?.via === 'cookie',
    ...(principal?.csrf ? { csrf: principal.csrf } : {}),
  });
  res.status(status).set({
    'Cache-Control': 'no-store',
    'Content-Security-Policy':
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    'X-Content-Type-Options': 'nosniff',
  });
  res.type('html').send(frame);
}

/** A form without the session's CSRF token (a cross-site post, a stale page). */
function forbidden(res: Response): void {
  res.status(403).json({ error: 'forbidden', message: 'missing or wrong CSRF token' });
}

function decisionButtons(plan: PlanSummary, csrf: string | undefined): SafeHtml {
  const base = `/admin/plans/${encodeURIComponent(plan.id)}`;
  return html`${postButton(`${base}/approve`, 'Approve', csrf)} ${postButton(`${base}/reject`, 'Reject', csrf)}`;
}

function figures(plan: PlanSummary): SafeHtml {
  const c = plan.counts;
  return html`<td>${c.create}</td><td>${c.update}</td><td>${c.offboard}</td><td>${c.unchanged}</td>
<td>${c.consume} / ${c.release}</td><td>${plan.headroom ?? '—'}</td>`;
}

function diff(opened: OpenedPlan): SafeHtml {
  const { plan } = opened;
  const more = (n: number) => (n > DIFF_LIMIT ? html`<p>… and ${n - DIFF_LIMIT} more.</p>` : html``);
  const creates = plan.create
    .slice(0, DIFF_LIMIT)
    .map(
      (c) =>
        html`<tr><td>${c.key}</td><td>${c.entry.first_name} ${c.entry.last_name}</td><td>${c.reenable ? 'rehire: re-enable' : ''}</td></tr>`,
    );
  const updates = plan.update.slice(0, DIFF_LIMIT).map((u) => {
    const fields = Object.entries(u.changes)
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(';') : String(v)}`)
      .join(', ');
    return html`<tr><td>${u.key}</td><td>${u.personId}</td><td>${fields}</td></tr>`;
  });
  const offboards = plan.offboard
    .slice(0, DIFF_LIMIT)
    .map(
      (o) =>
        html`<tr data-offboard="${o.personId}"><td>${o.key}</td><td>${o.name}</td><td>${o.personId}</td><td>${o.reason}</td><td>${o.credentialIds.length}</td><td>${o.disable ? 'yes' : ''}</td></tr>`,
    );
  return html`<h2>Offboard (${plan.offboard.length})</h2><table id="plan-offboard"><thead><tr><th>key</th><th>name</th>
<th>person id</th><th>reason</th><th>credentials to revoke</th><th>disable</th></tr></thead><tbody>${offboards}</tbody></table>${more(plan.offboard.length)}
<h2>Create (${plan.create.length})</h2><table id="plan-create"><thead><tr><th>key</th><th>name</th><th></th></tr></thead>
<tbody>${creates}</tbody></table>${more(plan.create.length)}
<h2>Update (${plan.update.length})</h2><table id="plan-update"><thead><tr><th>key</th><th>person id</th><th>changes</th></tr></thead>
<tbody>${updates}</tbody></table>${more(plan.update.length)}`;
}

function flash(query: Record<string, unknown>): SafeHtml {
  if (typeof query.approved === 'string')
    return html`<p class="flash" role="status">Plan ${query.approved} approved: sync run ${String(query.run ?? '')} started.</p>`;
  if (typeof query.rejected === 'string')
    return html`<p class="flash" role="status">Plan ${query.rejected} rejected: nothing was changed.</p>`;
  return html``;
}

export function adminPlansRouter(deps: AdminPlansDeps): Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '8kb' });

  router.get('/admin/plans', async (req, res) => {
    const plans = await deps.plans.list();
    const csrf = who(res)?.csrf;
    const rows = plans.map(
      (
        p,
      ) => html`<tr data-plan="${p.id}"><td><a href="/admin/plans/${encodeURIComponent(p.id)}">${p.id}</a></td>
<td>${p.sourceName}</td><td>${isoTime(p.quarantinedAt)}</td>${figures(p)}<td class="bad">${p.refusals.join('; ')}</td>
<td>${decisionButtons(p, csrf)}</td></tr>`,
    );
    sendPlanPage(
      res,
      'Quarantined plans',
      html`${flash(req.query)}${
        plans.length === 0
          ? html`<p id="no-plans">No quarantined plans.</p>`
          : html`<table id="plans"><thead><tr><th>plan</th><th>source</th><th>quarantined (UTC)</th><th>create</th>
<th>update</th><th>offboard</th><th>unchanged</th><th>licences used / freed</th><th>headroom</th><th>why</th><th></th></tr></thead>
<tbody>${rows}</tbody></table>`
      }`,
    );
  });

  router.get('/admin/plans/:id', async (req, res) => {
    const opened = await deps.plans.open(req.params.id);
    if (!opened) {
      sendPlanPage(res, 'Plan not found', html`<p>No quarantined plan ${req.params.id}.</p>`, 404);
      return;
    }
    const s = opened.summary;
    sendPlanPage(
      res,
      `Plan ${s.id}`,
      html`<p>Source ${s.sourceName} (${s.sourceId}); quarantined ${isoTime(s.quarantinedAt)}.</p>
<ul id="plan-refusals">${s.refusals.map((r) => html`<li class="bad">${r}</li>`)}</ul>
<p>${decisionButtons(s, who(res)?.csrf)}</p>${diff(opened)}`,
    );
  });

  const decide = (verb: 'approve' | 'reject') =>
    router.post(`/admin/plans/:id/${verb}`, form, async (req, res) => {
      const submitted = (req.body as { _csrf?: unknown } | undefined)?._csrf;
      if (!deps.auth.checkCsrf(res, submitted)) return void forbidden(res);
      const principal = who(res);
      const decider = { actor: 'admin', operator: principal?.operator ?? 'admin' };
      const id = req.params.id;
      deps.logger.info({ planId: id, via: principal?.via }, `sync plan ${verb} from the admin page`);
      if (verb === 'reject') {
        if (!(await deps.plans.reject(id, decider))) {
          res.status(404).json({ error: 'not_found', message: 'no such quarantined plan' });
          return;
        }
        res.redirect(303, `/admin/plans?rejected=${encodeURIComponent(id)}`);
        return;
      }
      const result = await deps.plans.approve(id, decider);
      if (result.status === 'not_found') {
        res.status(404).json({ error: 'not_found', message: 'no such quarantined plan' });
        return;
      }
      if (result.status === 'drifted') {
        sendPlanPage(
          res,
          `Plan ${id} not applied`,
          html`<p class="bad" id="plan-drift">${result.reason}</p>`,
          409,
        );
        return;
      }
      res.redirect(
        303,
        `/admin/plans?approved=${encodeURIComponent(id)}&run=${encodeURIComponent(result.runId)}`,
      );
    });
  decide('approve');
  decide('reject');

  return router;
}
