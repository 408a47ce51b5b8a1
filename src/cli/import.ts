import { access } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { type Command, Option } from 'commander';
import type { Config } from '../lib/config.ts';
import { ConfigError, type ConfigProblem } from '../lib/errors.ts';
import { DELIVERY_CHANNELS, type DeliveryChannelName } from '../lib/roster.ts';
import { buildConfig, buildRuntime, resolveRedisUrl } from '../main.ts';
import { readRosterCsv } from '../producers/csv-minimal.ts';
import { intake } from '../producers/intake.ts';
import { EXIT } from './exit-codes.ts';
import { buildPipeline, type Pipeline } from './pipeline-runtime.ts';
import { buildRunView, formatRunView } from './run-summary.ts';

/** What a delivery channel needs configured; checked before anything is enqueued. */
export function deliveryProblems(config: Config, channel: DeliveryChannelName): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const need = (ok: unknown, variable: string) => {
    if (!ok) problems.push({ variable, expected: `required for --delivery ${channel}` });
  };
  if (channel !== 'doorflow') need(config.encryptionKey, 'ENCRYPTION_KEY');
  if (channel === 'webhook') {
    need(config.delivery.webhookUrl, 'DELIVERY_WEBHOOK_URL');
    need(config.delivery.webhookSecret, 'DELIVERY_WEBHOOK_SECRET');
  }
  if (channel === 'email') need(config.delivery.smtpUrl, 'SMTP_URL');
  if (channel === 'sms') {
    need(config.delivery.sms.baseUrl, 'SMS_BASE_URL');
    need(config.delivery.sms.accountSid, 'SMS_ACCOUNT_SID');
    need(config.delivery.sms.authToken, 'SMS_AUTH_TOKEN');
  }
  return problems;
}

/**
 * Polls the run until it finishes, with a progress bar on a TTY. Resolves with the exit code:
 * 0 only when every entry was provisioned (newly or already).
 */
export async function waitForRun(
  pipeline: Pipeline,
  runId: string,
  options: { tty: boolean; pollMs?: number; signal?: AbortSignal },
): Promise<number> {
  const bar = options.tty
    ? new cliProgress.SingleBar(
        {
          format: ' {bar} {value}/{total} entries settled | {provisioned} provisioned | {dead} failed',
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let started = false;
  try {
    for (;;) {
      if (options.signal?.aborted) return EXIT.interrupted;
      const run = await pipeline.runs.get(runId);
      if (!run) throw new Error(`run ${runId} not found`);
      const provisioned = (run.counts.provisioned ?? 0) + (run.counts.already_provisioned ?? 0);
      const settled = provisioned + run.dead + (run.counts.invalid ?? 0);
      if (bar) {
        if (!started) bar.start(run.total, settled, { provisioned, dead: run.dead });
        started = true;
        bar.setTotal(run.total);
        bar.update(settled, { provisioned, dead: run.dead + (run.counts.invalid ?? 0) });
      }
      if (run.finishedAt !== undefined) break;
      await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
    }
  } finally {
    bar?.stop();
  }
  const view = await buildRunView(pipeline, runId, { withActive: false });
  if (!view) return EXIT.failure;
  console.log(formatRunView(view));
  return view.succeeded ? EXIT.ok : EXIT.failure;
}

export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description('Import a roster CSV (system_id,first_name,last_name,email,mobile) as a new run')
    .argument('<file>', 'CSV file with a header row')
    .addOption(
      new Option('--delivery <channel>', 'how invitations reach people').choices([...DELIVERY_CHANNELS]),
    )
    .option('--wait', 'wait until the run finishes; exit 0 only if every entry was provisioned')
    .option('--no-prefetch', 'do not list the account’s people first (one lookup per entry instead)')
    .action(
      async (
        file: string,
        options: { delivery?: DeliveryChannelName; wait?: boolean; prefetch: boolean },
      ) => {
        const config = buildConfig();
        const channel = options.delivery ?? config.delivery.defaultChannel;
        const problems = deliveryProblems(config, channel);
        if (problems.length > 0) throw new ConfigError(problems);
        try {
          await access(file);
        } catch {
          console.error(`error: cannot read ${file}`);
          process.exitCode = EXIT.usage;
          return;
        }
        const runtime = buildRuntime(config);
        const controller = new AbortController();
        const onSignal = () => controller.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const { url } = await resolveRedisUrl(runtime, { allowEmbedded: false });
          const pipeline = buildPipeline(config, { redisUrl: url, logger: runtime.logger });
          runtime.onClose(() => pipeline.close());
          const result = await intake(
            pipeline.intakeDeps(true),
            {
              source: `csv:${file}`,
              delivery: channel,
              prefetch: options.prefetch,
              signal: controller.signal,
            },
            readRosterCsv(file),
          );
          console.log(
            `run ${result.runId}: ${result.accepted} entries queued, ${result.duplicates} duplicate keys skipped, ${result.rejected.length} rejected`,
          );
          for (const r of result.rejected.slice(0, 20)) {
            console.log(
              `  rejected ${r.line !== undefined ? `line ${r.line} ` : ''}${r.key}: ${r.code} (${r.message})`,
            );
          }
          if (options.wait) {
            process.exitCode = await waitForRun(pipeline, result.runId, {
              tty: Boolean(process.stdout.isTTY),
              signal: controller.signal,
            });
          } else {
            process.exitCode = result.rejected.length > 0 ? EXIT.failure : EXIT.ok;
          }
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          await runtime.close();
        }
      },
    );
}
