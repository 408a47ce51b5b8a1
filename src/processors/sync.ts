import { decryptSecret } from '../lib/core/crypto.ts';
import { ProvisionerError } from '../lib/core/errors.ts';
import { defineProcessor } from '../lib/jobs/define-processor.ts';
import type { SyncJobPayload } from '../lib/jobs/registry.ts';
import type { JobContext, ProcessorDeps } from './context.ts';
import { notifyPlanQuarantined } from '../lib/ops/notify.ts';
import { ScimUserStore } from '../lib/store/scim-users.ts';
import { markScimPlanApproved } from '../producers/scim/plan-approved.ts';
import { runSync, type SyncDeps, type SyncOptions } from '../producers/sync/sync.ts';

/**
 * The scheduled roster sync as a job on the `sync` queue (`sync --schedule "0 2 * * *"` registers
 * a BullMQ job scheduler that adds one such job per tick). The worker command binds it next to
 * the pipeline's processors. A refused sync is quarantined (`sync plans`) and fails permanently
 * with the explanation, so it shows in the dead-letter list and alerts instead of passing silently.
 */

export const syncProcessor = defineProcessor('sync', handle);

/** What a roster sync needs, from the processors' deps (the `sync` command builds it the same way). */
export function syncDepsOf(
  deps: ProcessorDeps,
): SyncDeps & { quarantine: NonNullable<SyncDeps['quarantine']> } {
  // SCIM records are sealed: without ENCRYPTION_KEY there is no SCIM store to update.
  const key = deps.config.encryptionKey;
  const scimUsers = key ? new ScimUserStore(deps.redis, deps.keys, key) : undefined;
  return {
    config: deps.config,
    intake: {
      config: deps.config,
      queues: deps.queues,
      runs: deps.runs,
      people: deps.people,
      doorflow: deps.doorflow,
      logger: deps.logger,
    },
    doorflow: deps.doorflow,
    hidCredentialTypeId: () => deps.hidCredentialTypeId(),
    managed: deps.managed,
    syncRuns: deps.syncRuns,
    logger: deps.logger,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    licences: deps.licences,
    quarantine: {
      plans: deps.syncPlans,
      syncRuns: deps.syncRuns,
      encryptionKey: deps.config.encryptionKey,
      clock: deps.clock,
      logger: deps.logger,
      notify: (summary) =>
        notifyPlanQuarantined(deps.config.lifecycle.notifyWebhookUrl, summary, deps.logger),
    },
    audit: deps.audit,
    ...(scimUsers
      ? { afterApproval: (opened, runId) => markScimPlanApproved(scimUsers, opened, runId, deps.clock.now()) }
      : {}),
  };
}

async function handle(
  payload: SyncJobPayload,
  deps: ProcessorDeps,
  ctx: JobContext,
): Promise<{ runId: string | undefined }> {
  const { encryptedHeaders, encryptedUrl, ...rest } = payload;
  const options: SyncOptions = { ...rest, signal: ctx.signal };
  if (encryptedUrl) options.url = decryptSecret(storedSecretsKey(deps), encryptedUrl);
  if (encryptedHeaders) {
    const key = storedSecretsKey(deps);
    options.headers = Object.fromEntries(
      Object.entries(encryptedHeaders).map(([name, token]) => [name, decryptSecret(key, token)]),
    );
  }
  const report = await runSync(syncDepsOf(deps), options);
  if (report.refused) {
    throw new ProvisionerError(
      'sync_refused',
      `scheduled sync refused: ${report.plan.safety.refusals.join('; ')}` +
        (report.quarantined
          ? `; plan ${report.quarantined.id} quarantined (sync approve ${report.quarantined.id})`
          : ''),
      {
        retryable: false,
      },
    );
  }
  ctx.logger.info(
    {
      runId: report.runId,
      create: report.plan.create.length,
      update: report.plan.update.length,
      offboard: report.plan.offboard.length,
      unchanged: report.plan.unchanged,
    },
    'scheduled sync applied',
  );
  return { runId: report.runId };
}

/** The key the `sync --schedule` command encrypted the feed URL and headers with. */
function storedSecretsKey(deps: ProcessorDeps): Buffer {
  const key = deps.config.encryptionKey;
  if (!key) {
    throw new ProvisionerError(
      'encryption_key_missing',
      'ENCRYPTION_KEY is required to read the scheduled feed URL and headers',
      { retryable: false },
    );
  }
  return key;
}
