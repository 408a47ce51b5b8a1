import { randomUUID } from 'node:crypto';
import { plural } from '../lib/core/plural.ts';
import type { Command } from 'commander';
import { parseDurationMs } from '../lib/core/config.ts';
import { requestRevocation } from '../processors/lifecycle/schedule.ts';
import type { RevocationSummary } from '../processors/lifecycle/revocation.ts';
import { EXIT } from './exit-codes.ts';
import {
  readLeavers,
  resolvePersonByEmail,
  resolvePersonId,
  waitForJob,
  waitForRevoked,
} from './lifecycle-cli.ts';
import { withPipelineCommand } from '../app/pipeline.ts';
import { auditRequest } from './operator.ts';

/**
 * `revoke (--person SYSTEM_ID | --file leavers.csv) [--wait]`: queues revocation of each person's
 * live HID Mobile Access credentials (a `worker` performs it: DELETE → 202 → revoking). With
 * `--wait`, reports a credential revoked only once `revoked` arrives (webhook or poll). Revoking
 * what is already revoked changes nothing.
 */
export function registerRevokeCommand(program: Command): void {
  program
    .command('revoke')
    .description("Revoke people's HID Mobile Access credentials (leavers, lost phones)")
    .option('--person <systemId>', 'one person by system_id')
    .option('--file <csv>', 'a CSV with a system_id (or email) column')
    .option('--wait', 'wait until DoorFlow confirms every credential revoked')
    .option('--timeout <duration>', 'how long --wait waits (e.g. 10m)', '10m')
    .action(async (options: { person?: string; file?: string; wait?: boolean; timeout: string }) => {
      if (Boolean(options.person) === Boolean(options.file)) {
        console.error('error: give exactly one of --person SYSTEM_ID or --file leavers.csv');
        process.exitCode = EXIT.usage;
        return;
      }
      const timeoutMs = parseDurationMs(options.timeout);
      if (timeoutMs === undefined) {
        console.error('error: --timeout expects a duration such as 90s or 10m');
        process.exitCode = EXIT.usage;
        return;
      }
      await withPipelineCommand(async (pipeline, runtime) => {
        const config = pipeline.config;
        const targets = options.person
          ? [{ systemId: options.person }]
          : await readLeavers(options.file as string);
        const requestId = randomUUID().slice(0, 8);
        const queued: { label: string; personId: number; jobId: string }[] = [];
        let notFound = 0;
        for (const t of targets) {
          const label = t.systemId ?? t.email ?? '?';
          const personId = t.systemId
            ? await resolvePersonId(pipeline, t.systemId)
            : await resolvePersonByEmail(pipeline, t.email as string);
          if (personId === undefined) {
            console.log(`${label}: not found in DoorFlow`);
            notFound++;
            continue;
          }
          const jobId = await requestRevocation(pipeline.queues, {
            personId,
            requestId,
            requestedBy: 'cli',
            ...(t.systemId ? { systemId: t.systemId } : {}),
          });
          await auditRequest(pipeline.audit, 'revoke', {
            action: 'credential.revoke.request',
            targetType: 'person',
            targetId: String(personId),
            ...(t.systemId ? { key: `sid:${t.systemId}` } : {}),
          });
          queued.push({ label, personId, jobId });
        }
        console.log(
          `revocation queued for ${plural(queued.length, 'person', 'people')}${notFound ? `, ${notFound} not found` : ''}`,
        );
        if (!options.wait) return notFound > 0 ? EXIT.failure : EXIT.ok;
        const deadline = Date.now() + timeoutMs;
        const pending: { personId: number; credentialId: string }[] = [];
        const lines = new Map<string, string>();
        for (const q of queued) {
          const summary = (await waitForJob(pipeline, 'revocation', q.jobId, deadline)) as RevocationSummary;
          const ids = [...summary.revoking, ...summary.revoked];
          for (const id of [...ids, ...summary.already])
            pending.push({ personId: q.personId, credentialId: id });
          lines.set(
            q.label,
            ids.length === 0 && summary.already.length === 0
              ? 'no HID credential'
              : `${ids.length} revoked now, ${summary.already.length} already revoking/revoked`,
          );
        }
        const pollEveryMs = Math.min(config.lifecycle.statusPollAfterMs, 2_000);
        const left = await waitForRevoked(pipeline, runtime.logger, pending, deadline, pollEveryMs);
        for (const [label, line] of lines) console.log(`${label}: ${line}`);
        if (left.length > 0) {
          console.log(`still revoking after ${options.timeout}: ${left.join(', ')}`);
          return EXIT.failure;
        }
        console.log(`confirmed revoked: ${plural(pending.length, 'credential')}`);
        return notFound > 0 ? EXIT.failure : EXIT.ok;
      });
    });
}
