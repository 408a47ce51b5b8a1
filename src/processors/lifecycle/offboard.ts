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
 * Progress is counted per sync run in the sync run store (`offboarded`, `reenabled`).
 */

export const offboardProcessor = defineProcessor('offboard', handle);

export interface OffboardResult {
  revoked: number;
  disabled: boolean;
}

async function handle(p: OffboardPayload, deps: ProcessorDeps, ctx: JobContext): Promise<OffboardResult> {
  const call = { signal: ctx.signal };
  if (p.action === 'reenable') {
    await deps.doorflow.updatePerson(p.personId, { enabled: true }, call);
    await deps.syncRuns.countReenabled(p.runId, p.personId);
    ctx.logger.debug({ personId: p.personId }, 'rehire re-enabled');
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
      await deps.syncRuns.countGone(p.runId);
      await deps.people.dropContact(p.personId);
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
  // A leaver gets no reminder or reissue: their roster email leaves Redis (a rejoiner's person step keeps it again).
  await deps.people.dropContact(p.personId);
  await deps.syncRuns.countOffboarded(p.runId, p.personId, revoked);
  ctx.logger.debug({ personId: p.personId, revoked, disabled: p.disable }, 'leaver offboarded');
  return { revoked, disabled: p.disable };
}
