import type { Command } from 'commander';
import { LIVE_CREDENTIAL_STATUSES } from '../lib/doorflow/types.ts';
import { parseDurationMs } from '../lib/core/config.ts';
import { deliveryChannelSchema } from '../lib/delivery/channel-names.ts';
import { channelSettingProblems } from '../lib/delivery/channel-settings.ts';
import { ConfigError } from '../lib/core/errors.ts';
import { encodeKey } from '../lib/jobs/registry.ts';
import { EXIT } from './exit-codes.ts';
import { resolvePersonId, waitForJob } from './lifecycle-cli.ts';
import { withPipelineCommand } from '../app/pipeline.ts';
import { auditRequest } from './operator.ts';

/**
 * `reissue --person SYSTEM_ID` (new phone): revoke the old credential, create a new one, deliver
 * the new code — performed by a `worker` (queue `reissue`). Asking again while the replacement is
 * still waiting to be accepted does nothing (no second new credential); `--force` replaces it anyway.
 */
export function registerReissueCommand(program: Command): void {
  program
    .command('reissue')
    .description('Replace a person’s HID Mobile Access credential (new phone): revoke, create, deliver')
    .requiredOption('--person <systemId>', 'the person, by system_id')
    .option(
      '--channel <channel>',
      'doorflow | webhook | email | sms (default: as first delivered, else DELIVERY_DEFAULT)',
    )
    .option('--force', 'replace even a replacement that is still waiting to be accepted')
    .option('--wait', 'wait until the new credential exists and its code is delivered')
    .option('--timeout <duration>', 'how long --wait waits', '5m')
    .action(
      async (options: {
        person: string;
        channel?: string;
        force?: boolean;
        wait?: boolean;
        timeout: string;
      }) => {
        const channelArg = options.channel ? deliveryChannelSchema.safeParse(options.channel) : undefined;
        const timeoutMs = parseDurationMs(options.timeout);
        if ((channelArg && !channelArg.success) || timeoutMs === undefined) {
          console.error(
            'error: --channel expects doorflow, webhook, email or sms; --timeout a duration such as 5m',
          );
          process.exitCode = EXIT.usage;
          return;
        }
        await withPipelineCommand(async (pipeline) => {
          const config = pipeline.config;
          const personId = await resolvePersonId(pipeline, options.person);
          if (personId === undefined) {
            console.log(`${options.person}: not found in DoorFlow`);
            return EXIT.failure;
          }
          const hid = await pipeline.doorflow().resolveHidCredentialTypeId();
          const live = (await pipeline.doorflow().listPersonCredentials(personId)).filter(
            (c) => c.credential_type_id === hid && LIVE_CREDENTIAL_STATUSES.has(c.status ?? ''),
          );
          const current = live.at(-1);
          if (!current) {
            console.log(`${options.person}: no live HID credential to replace (use import to issue one)`);
            return EXIT.failure;
          }
          const record = await pipeline.stores.credentials.get(current.id);
          if (record?.replaces && current.status === 'invited' && !options.force) {
            console.log(
              `${options.person}: replacement ${current.id} (for ${record.replaces}) is still waiting to be accepted; nothing done (--force to replace it)`,
            );
            return EXIT.ok;
          }
          const channel =
            channelArg?.data ??
            (record?.channel as typeof config.delivery.defaultChannel | undefined) ??
            config.delivery.defaultChannel;
          // The new code goes out on this channel: refuse (exit 3) before revoking anything if it cannot.
          const problems = channelSettingProblems(config, [
            {
              channel,
              chosenBy: channelArg
                ? `--channel ${channel}`
                : record?.channel
                  ? 'the channel it was first delivered on'
                  : 'DELIVERY_DEFAULT',
            },
          ]);
          if (problems.length > 0) throw new ConfigError(problems);
          const jobId = `reissue--${encodeKey(current.id)}`;
          await pipeline.queues.add(
            'reissue',
            { personId, oldCredentialId: current.id, channel, reason: 'reissue', requestedBy: 'cli' },
            { jobId },
          );
          await auditRequest(pipeline.audit, 'reissue', {
            action: 'credential.reissue.request',
            targetType: 'credential',
            targetId: current.id,
            after: { personId, channel },
          });
          console.log(`${options.person}: reissue of ${current.id} queued (channel ${channel})`);
          if (options.wait) {
            const newId = await waitForJob(pipeline, 'reissue', jobId, Date.now() + timeoutMs);
            console.log(
              `${options.person}: new credential ${String(newId)} issued; old ${current.id} revoking`,
            );
          }
          return EXIT.ok;
        });
      },
    );
}
