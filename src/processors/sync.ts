import { z } from 'zod';
import { decryptSecret } from '../lib/core/crypto.ts';
import { ProvisionerError } from '../lib/core/errors.ts';
import type { JobContext, ProcessorDeps } from './context.ts';
import { runSync, type SyncDeps, type SyncOptions } from '../producers/sync/sync.ts';

/**
 * The scheduled roster sync as a job on the `sync` queue (`sync --schedule "0 2 * * *"` registers
 * a BullMQ job scheduler that adds one such job per tick). The worker command binds it next to
 * the pipeline's processors. A refused sync fails permanently with the explanation, so it shows
 * in the dead-letter list and alerts instead of passing silently.
 */

export const queueName = 'sync' as const;

export const payloadSchema = z.object({
  source: z.enum(['csv', 'bamboohr', 'json']),
  file: z.string().optional(),
  url: z.string().optional(),
  company: z.string().optional(),
  mapping: z.string().optional(),
  /** Feed request headers, each value AES-256-GCM encrypted with ENCRYPTION_KEY (they carry credentials). */
  encryptedHeaders: z.record(z.string(), z.string()).optional(),
  map: z.array(z.string()).optional(),
  delimiter: z.string().optional(),
  delivery: z.enum(['doorflow', 'webhook', 'email', 'sms']).optional(),
  defaultCountry: z.string().optional(),
  maxOffboard: z.string().optional(),
  force: z.boolean().optional(),
  timeoutMs: z.number().int().positive().optional(),
});
export type SyncJobPayload = z.infer<typeof payloadSchema>;

/** The run key a scheduled sync job needs in its data (runJob binds logs to it). */
export function syncDepsFromProcessor(deps: ProcessorDeps): SyncDeps {
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
  };
}

export async function handle(
  payload: SyncJobPayload,
  deps: ProcessorDeps,
  ctx: JobContext,
): Promise<{ runId: string | undefined }> {
  const { encryptedHeaders, ...rest } = payload;
  const options: SyncOptions = { ...rest, signal: ctx.signal };
  if (encryptedHeaders) {
    const key = deps.config.encryptionKey;
    if (!key) {
      throw new ProvisionerError(
        'encryption_key_missing',
        'ENCRYPTION_KEY is required to read the scheduled feed headers',
        {
          retryable: false,
        },
      );
    }
    options.headers = Object.fromEntries(
      Object.entries(encryptedHeaders).map(([name, token]) => [name, decryptSecret(key, token)]),
    );
  }
  const report = await runSync(syncDepsFromProcessor(deps), options);
  if (report.refused) {
    throw new ProvisionerError(
      'sync_refused',
      `scheduled sync refused: ${report.plan.safety.refusals.join('; ')}`,
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
