import express, { type Response, type Router } from 'express';
import type { Logger } from '../lib/core/logger.ts';
import type { Queues } from '../lib/jobs/registry.ts';
import type { AuditLog } from '../lib/store/audit-log.ts';
import type { PipelinePauseStore } from '../lib/store/pipeline-pause.ts';
import type { RunCancelStore } from '../lib/store/run-cancel.ts';
import type { RunRecord, RunStore } from '../lib/store/runs.ts';
import {
  describePause,
  pausePipeline,
  pauseState,
  resumePipeline,
} from '../processors/services/pipeline-pause.ts';
import { cancelRun } from '../processors/services/run-cancel.ts';
import type { AdminAuth, AdminPrincipal } from './admin-auth.ts';
import { html, postButton, type SafeHtml } from './admin-html.ts';

/**
 * Run control on `/admin/runs`: the pipeline's state with a Pause or Resume button, and a Cancel
 * button for each run still going. The buttons POST with the session's CSRF token to the routes
 * here, which call the same services as `pause`, `resume` and `runs cancel` and audit the admin
 * session that asked. Mount behind the admin auth middleware.
 */

export interface RunControlDeps {
  runs: RunStore;
  runCancels: RunCancelStore;
  pipelinePause: PipelinePauseStore;
  queues: Queues;
  auth: AdminAuth;
  logger: Logger;
  audit?: AuditLog;
}

const MESSAGES: Record<string, string> = {
  paused: 'Pipeline paused: running jobs finish, no new pipeline job is taken.',
  resumed: 'Pipeline resumed.',
  cancelled: 'Run cancelled: queued steps removed; running ones finish, then their entries end cancelled.',
  'already-cancelled': 'That run was cancelled already.',
  'already-finished': 'That run had already finished: nothing to cancel.',
};

/** The control block for the runs page: pipeline state, Pause/Resume, Cancel per live run. */
export async function runControlPanel(
  deps: Pick<RunControlDeps, 'queues' | 'pipelinePause'>,
  runs: readonly RunRecord[],
  csrf: string | undefined,
  done: unknown,
): Promise<SafeHtml> {
  const state = await pauseState(deps);
  const message = typeof done === 'string' ? MESSAGES[done] : undefined;
  const toggle = state.paused
    ? postButton('/admin/pipeline/resume', 'Resume', csrf)
    : postButton('/admin/pipeline/pause', 'Pause', csrf);
  const live = runs.filter((r) => r.finishedAt === undefined && r.cancelledAt === undefined);
  const cancels = live.map(
    (r) =>
      html`<li data-cancel-run="${r.id}">${r.id} (${r.source}) ${postButton(`/admin/runs/${encodeURIComponent(r.id)}/cancel`, 'Cancel', csrf)}</li>`,
  );
  return html`${message ? html`<p class="flash" role="status" id="control-flash">${message}</p>` : html``}
<section id="run-control"><p id="pipeline-state" class="${state.paused ? 'bad' : 'ok'}">${describePause(state)}</p>${toggle}
${cancels.length > 0 ? html`<ul id="live-runs">${cancels}</ul>` : html``}</section>`;
}

function principal(res: Response): AdminPrincipal | undefined {
  return res.locals.admin as AdminPrincipal | undefined;
}

export function runControlRouter(deps: RunControlDeps): Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '4kb' });
  const allowed = (res: Response, body: unknown): boolean => {
    const token = (body ?? {}) as Record<string, unknown>;
    if (deps.auth.checkCsrf(res, token._csrf)) return true;
    res.status(403).json({ error: 'forbidden', message: 'missing or wrong CSRF token' });
    return false;
  };
  const who = (res: Response) => ({ actor: 'admin', operator: principal(res)?.operator ?? 'admin' });

  router.post('/admin/pipeline/pause', form, async (req, res) => {
    if (!allowed(res, req.body)) return;
    const state = await pausePipeline(deps, who(res).operator);
    await deps.audit?.record({
      ...who(res),
      action: 'pipeline.pause',
      targetType: 'pipeline',
      targetId: 'pipeline',
      after: { queues: state.pausedQueues },
    });
    deps.logger.info({ via: principal(res)?.via }, 'pipeline paused from the admin page');
    res.redirect(303, '/admin/runs?control=paused');
  });

  router.post('/admin/pipeline/resume', form, async (req, res) => {
    if (!allowed(res, req.body)) return;
    await resumePipeline(deps);
    await deps.audit?.record({
      ...who(res),
      action: 'pipeline.resume',
      targetType: 'pipeline',
      targetId: 'pipeline',
    });
    deps.logger.info({ via: principal(res)?.via }, 'pipeline resumed from the admin page');
    res.redirect(303, '/admin/runs?control=resumed');
  });

  router.post('/admin/runs/:id/cancel', form, async (req, res) => {
    if (!allowed(res, req.body)) return;
    const result = await cancelRun(deps, req.params.id, who(res).operator);
    if (result.mark === 'no_run') {
      res.status(404).json({ error: 'not_found', message: 'no such run' });
      return;
    }
    if (result.mark === 'marked') {
      await deps.audit?.record({
        ...who(res),
        action: 'run.cancel',
        targetType: 'run',
        targetId: result.runId,
        runId: result.runId,
        after: { removed: result.removed, inFlight: result.inFlight },
      });
    }
    const done = result.mark === 'marked' ? 'cancelled' : result.mark.replace('_', '-');
    res.redirect(303, `/admin/runs?control=${done}`);
  });

  return router;
}
