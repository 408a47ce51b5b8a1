import type { Logger } from '../../lib/core/logger.ts';
import { PIPELINE_QUEUES } from '../../lib/jobs/pipeline-queues.ts';
import type { QueueName } from '../../lib/jobs/registry.ts';
import type { ProcessorDeps } from '../context.ts';
import type { JobFields } from './job-fields.ts';

/**
 * The cancel hook at the start of every pipeline step: a job of a cancelled run (one `runs cancel`
 * could not remove because it was running, or one an in-flight step added afterwards) ends its
 * entry `cancelled` and makes no DoorFlow call. Lifecycle jobs are not part of a run's intake and
 * go on.
 */

const PIPELINE: ReadonlySet<string> = new Set(PIPELINE_QUEUES);

/** True when the step must not run: the entry was ended `cancelled`. */
export async function endIfCancelled(
  queue: QueueName,
  deps: Pick<ProcessorDeps, 'runs' | 'runCancels'>,
  fields: JobFields,
  logger: Logger,
): Promise<boolean> {
  if (!PIPELINE.has(queue) || fields.runId === undefined || fields.key === undefined) return false;
  if (!(await deps.runCancels.isCancelled(fields.runId))) return false;
  await deps.runs.move(fields.runId, fields.key, 'cancelled', {
    step: queue,
    message: 'run cancelled before this step',
    ...(fields.personId !== undefined ? { personId: fields.personId } : {}),
    ...(fields.credentialId !== undefined ? { credentialId: fields.credentialId } : {}),
  });
  logger.info('run cancelled: entry ended without running the step');
  return true;
}
