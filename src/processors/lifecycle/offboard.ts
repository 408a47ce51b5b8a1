import { LIVE_CREDENTIAL_STATUSES } from '../../lib/doorflow/types.ts';
import { DoorFlowError } from '../../lib/core/errors.ts';
import type { OffboardPayload } from '../../lib/jobs/registry.ts';
import { defineProcessor } from '../../lib/jobs/define-processor.ts';
import type { JobContext, ProcessorDeps } from '../context.ts';
import { revokeOne } from './track.ts';

/**
 * Roster sync leavers: revoke every live HID Mobile Access credential of the person (invited ones
 * too — a pending invitation is a pass waiting to be accepted), then set `enabled: false`. Never a
 * delete. Idempotent: a retry lists again, and credentials already `revoking`/`revoked` are not
 * live, so nothing is revoked twice. `reenable` (a rehire) sets `enabled: true`.
 *
 * Progress is counted per sync run in `${prefix}:sync:{runId}` (`offboarded`, `reenabled`).
 */

export const offboardProcessor = defineProcessor('offboard', handle);

export interface OffboardResult {
  revoked: number;
  disabled: boolean;
}

/** The per-run counters key for sync side effects that are not pipeline entries. */
export function syncRunKey(prefix: string, runId: string): string {
  return `${prefix}:sync:${runId}`;
}

async function handle(p: OffboardPayload, deps: ProcessorDeps, ctx: JobContext): Promise<OffboardResult> {
  const call = { signal: ctx.signal };
  const counters = syncRunKey(deps.prefix, p.runId);
  const marker = `${counters}:done`;
  if (p.action === 'reenable') {
    await deps.doorflow.updatePerson(p.personId, { enabled: true }, call);
    if ((await deps.redis.sadd(marker, `reenable:${p.personId}`)) === 1) {
      await deps.redis.hincrby(counters, 'reenabled', 1);
    }
    ctx.logger.info({ personId: p.personId }, 'rehire re-enabled');
    return { revoked: 0, disabled: false };
  }
  const hidType = await deps.hidCredentialTypeId();
  let revoked = 0;
  let credentials: Awaited<ReturnType<typeof deps.doorflow.listPersonCredentials>> = [];
  try {
    credentials = await deps.doorflow.listPersonCredentials(p.personId, call);
  } catch (err) {
    // The person is gone (deleted by hand): nothing left to revoke or disable.
    if (err instanceof DoorFlowError && err.status === 404) {
      await deps.redis.hincrby(counters, 'gone', 1);
      return { revoked: 0, disabled: false };
    }
    throw err;
  }
  for (const credential of credentials) {
    if (credential.credential_type_id !== hidType) continue;
    if (!LIVE_CREDENTIAL_STATUSES.has(String(credential.status ?? 'invited'))) continue;
    // The shared revocation path: DELETE, record `revoking` in the status store (confirmation by
    // webhook or poll), drop any reminder copy of the code. A 404 (revoked meanwhile) is no error.
    const outcome = await revokeOne(deps, p.personId, credential, 'offboard', ctx.signal);
    if (outcome === 'revoking' || outcome === 'revoked') revoked += 1;
  }
  if (p.disable) await deps.doorflow.updatePerson(p.personId, { enabled: false }, call);
  if ((await deps.redis.sadd(marker, `offboard:${p.personId}`)) === 1) {
    await deps.redis
      .multi()
      .hincrby(counters, 'offboarded', 1)
      .hincrby(counters, 'revoked', revoked)
      .expire(marker, 30 * 86_400)
      .exec();
  }
  ctx.logger.info({ personId: p.personId, revoked, disabled: p.disable }, 'leaver offboarded');
  return { revoked, disabled: p.disable };
}
