import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { withPipelineCommand } from '../app/pipeline.ts';
import { parseDurationMs } from '../lib/core/config.ts';
import { plural } from '../lib/core/plural.ts';
import type { Credential } from '../lib/doorflow/types.ts';
import { reclaimCandidates, requestReclaim } from '../processors/services/reclaim.ts';
import { EXIT } from './exit-codes.ts';
import { waitForRevoked } from './lifecycle-cli.ts';
import { auditRequest } from './operator.ts';

/**
 * `reclaim --older-than 14d [--dry-run] [--json]`: revokes HID invitations nobody redeemed (DoorFlow
 * still says `invited`) to free their licences, then waits for DoorFlow to confirm each `revoked`
 * (as `revoke --wait` does; `--no-wait` only queues). A worker performs the revocations.
 */
interface ReclaimFlags {
  olderThan: string;
  dryRun?: boolean;
  json?: boolean;
  wait: boolean;
  timeout: string;
}

export function registerReclaimCommand(program: Command): void {
  program
    .command('reclaim')
    .description('Revoke HID invitations nobody redeemed (still invited) to free licences')
    .requiredOption('--older-than <duration>', 'invitations older than this, e.g. 14d')
    .option('--dry-run', 'list what would be revoked; change nothing')
    .option('--json', 'machine-readable output')
    .option('--no-wait', 'queue the revocations without waiting for DoorFlow to confirm them')
    .option('--timeout <duration>', 'how long to wait for the confirmations', '10m')
    .action(async (flags: ReclaimFlags) => {
      const olderThanMs = parseDurationMs(flags.olderThan);
      const timeoutMs = parseDurationMs(flags.timeout);
      if (olderThanMs === undefined || timeoutMs === undefined) {
        console.error('error: --older-than and --timeout expect durations such as 14d or 10m');
        process.exitCode = EXIT.usage;
        return;
      }
      await withPipelineCommand(async (pipeline, runtime) => {
        const doorflow = pipeline.doorflow();
        const listing: Credential[] = [];
        for await (const c of doorflow.iterateCredentials()) listing.push(c);
        const candidates = await reclaimCandidates(
          listing,
          await doorflow.resolveHidCredentialTypeId(),
          pipeline.stores.credentials,
          Date.now() - olderThanMs,
        );
        const out = (result: Record<string, unknown>, lines: string[]) => {
          if (flags.json) console.log(JSON.stringify({ olderThan: flags.olderThan, ...result }, null, 2));
          else for (const line of lines) console.log(line);
        };
        const found = `${plural(candidates.length, 'unredeemed invitation')} older than ${flags.olderThan}`;
        if (flags.dryRun || candidates.length === 0) {
          out({ dryRun: flags.dryRun === true, candidates }, [
            found,
            ...candidates.map(
              (c) =>
                `  ${c.credentialId}  person ${c.personId}  invited ${new Date(c.invitedAt).toISOString()}`,
            ),
            ...(flags.dryRun ? ['dry run: nothing was revoked'] : []),
          ]);
          return EXIT.ok;
        }
        await requestReclaim(pipeline.queues, candidates, randomUUID().slice(0, 8), 'cli:reclaim');
        await auditRequest(pipeline.audit, 'reclaim', {
          action: 'credential.reclaim.request',
          targetType: 'credential',
          targetId: candidates
            .map((c) => c.credentialId)
            .join(',')
            .slice(0, 2000),
          after: { olderThan: flags.olderThan, credentials: candidates.length },
        });
        if (!flags.wait) {
          out({ dryRun: false, candidates, queued: candidates.length }, [found, 'revocations queued']);
          return EXIT.ok;
        }
        const pollEveryMs = Math.min(pipeline.config.lifecycle.statusPollAfterMs, 2_000);
        const left = await waitForRevoked(
          pipeline,
          runtime.logger,
          candidates.map((c) => ({ personId: c.personId, credentialId: c.credentialId })),
          Date.now() + timeoutMs,
          pollEveryMs,
        );
        const revoked = candidates.length - left.length;
        out({ dryRun: false, candidates, revoked, stillRevoking: left }, [
          found,
          `confirmed revoked: ${plural(revoked, 'credential')}, ${plural(revoked, 'licence')} freed`,
          ...(left.length > 0 ? [`still revoking after ${flags.timeout}: ${left.join(', ')}`] : []),
        ]);
        return left.length > 0 ? EXIT.failure : EXIT.ok;
      });
    });
}
