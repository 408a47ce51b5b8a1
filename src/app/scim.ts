import { notifyPlanQuarantined } from '../lib/ops/notify.ts';
import { ScimBurstStore } from '../lib/store/scim-bursts.ts';
import { ScimUserStore } from '../lib/store/scim-users.ts';
import { ScimRuns } from '../producers/scim/scim-runs.ts';
import { ScimUsers } from '../producers/scim/users.ts';
import { type ScimModuleDeps, scimHttpModule } from '../server/scim.ts';
import type { HttpModule } from '../server/app.ts';
import type { Pipeline } from './pipeline.ts';

/**
 * Composes SCIM inbound for `serve`: the encrypted user store, the burst store, the intake (no
 * DoorFlow client: a SCIM run never prefetches) and the `/scim/v2` module. Undefined while
 * SCIM_TOKEN is unset, so the paths stay the app's 404. Config guarantees ENCRYPTION_KEY with it.
 */
export function scimModule(pipeline: Pipeline, now: () => number = Date.now): HttpModule | undefined {
  const { config, logger } = pipeline;
  const token = config.scim.token;
  const sealKey = config.encryptionKey;
  if (!token || !sealKey) return undefined;
  const runs = new ScimRuns({
    intake: pipeline.intakeDeps(false),
    people: pipeline.people,
    bursts: new ScimBurstStore(pipeline.redis, pipeline.keys),
    burstWindowMs: config.scim.burstWindowMs,
    quarantine: {
      plans: pipeline.stores.syncPlans,
      syncRuns: pipeline.stores.syncRuns,
      encryptionKey: sealKey,
      clock: { now },
      logger,
      notify: (summary) => notifyPlanQuarantined(config.lifecycle.notifyWebhookUrl, summary, logger),
    },
    credentials: pipeline.stores.credentials,
    now,
  });
  const deps: ScimModuleDeps = {
    token,
    logger,
    publicUrl: config.admin.publicUrl,
    users: new ScimUsers({
      config,
      users: new ScimUserStore(pipeline.redis, pipeline.keys, sealKey),
      runs,
      runStore: pipeline.runs,
      people: pipeline.people,
      credentials: pipeline.stores.credentials,
      logger,
      now,
    }),
    onClose: () => runs.close(),
  };
  return scimHttpModule(deps);
}
