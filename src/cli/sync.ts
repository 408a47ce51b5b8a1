import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { encryptSecret } from '../lib/core/crypto.ts';
import { PayloadError } from '../lib/core/errors.ts';
import { DELIVERY_CHANNELS, type DeliveryChannelName } from '../lib/delivery/channel-names.ts';
import { buildConfig, buildRuntime } from '../app/runtime.ts';
import { missingApiKey } from '../producers/sources/bamboohr.ts';
import { SourceError, safeUrl } from '../producers/sources/feed-http.ts';
import type { SyncJobPayload } from '../lib/jobs/registry.ts';
import { syncDepsOf } from '../processors/sync.ts';
import { parseOffboardLimit } from '../producers/sync/plan.ts';
import { runSync, sourceIdOf } from '../producers/sync/sync.ts';
import { waitForSync } from '../producers/sync/sync-progress.ts';
import { EXIT, reportUsageError } from './exit-codes.ts';
import { openPipeline } from '../app/pipeline.ts';
import { abortOnSignal } from './shutdown.ts';
import { auditRequest } from './operator.ts';
import { describeSync } from './sync-report.ts';
import { registerSyncPlanCommands } from './sync-plans.ts';

/**
 * `sync --source csv|bamboohr|json …`: compare an HR roster with DoorFlow and apply joiners,
 * movers and leavers (or print the plan with `--dry-run`). `--schedule CRON [--tz ZONE]` registers
 * a BullMQ job scheduler so the workers run it; `--unschedule` removes it.
 */

interface SyncFlags {
  source?: 'csv' | 'bamboohr' | 'json';
  sourceName?: string;
  file?: string;
  url?: string;
  company?: string;
  mapping?: string;
  header: string[];
  headerFile?: string;
  since?: string;
  map: string[];
  delimiter?: string;
  delivery?: DeliveryChannelName;
  defaultCountry?: string;
  dryRun?: boolean;
  json?: boolean;
  force?: boolean;
  maxOffboard?: string;
  wait?: boolean;
  schedule?: string;
  tz?: string;
  unschedule?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function parseHeaders(list: string[]): Record<string, string> | undefined {
  if (list.length === 0) return undefined;
  const headers: Record<string, string> = {};
  for (const item of list) {
    const colon = item.indexOf(':');
    if (colon <= 0) throw new PayloadError('--header expects "Name: value"');
    headers[item.slice(0, colon).trim()] = item.slice(colon + 1).trim();
  }
  return headers;
}

/**
 * `--header-file FILE` (`-` for stdin): one "Name: value" per line, blank lines and `#` comments
 * skipped, so feed credentials need not be on the command line (where `ps` and shell history see them).
 */
function headerFileLines(file: string | undefined): string[] {
  if (file === undefined) return [];
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'error';
    throw new PayloadError(`--header-file: cannot read ${file === '-' ? 'stdin' : file} (${code})`);
  }
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Whether a feed URL carries more than `safeUrl` shows (a query string, user info, a fragment). */
function hasSecretParts(url: string): boolean {
  try {
    const u = new URL(url);
    return u.search !== '' || u.username !== '' || u.password !== '' || u.hash !== '';
  } catch {
    return false;
  }
}

/**
 * What a scheduled job stores (BullMQ keeps a scheduler's job data in Redis as plain JSON): header
 * values and a feed URL with a query string encrypted with ENCRYPTION_KEY; the URL field keeps
 * only scheme, host and path, for listings and Bull Board.
 */
function scheduledPayload(
  flags: SyncFlags & { source: NonNullable<SyncFlags['source']> },
  key: Buffer | undefined,
): SyncJobPayload {
  const { headers, url, ...payload } = jobPayload(flags);
  const secretUrl = url !== undefined && hasSecretParts(url);
  if (!headers && !secretUrl) return { ...payload, ...(url !== undefined ? { url } : {}) };
  if (!key)
    throw new PayloadError(
      '--schedule with --header or a feed URL with a query string needs ENCRYPTION_KEY (they are stored encrypted)',
    );
  return {
    ...payload,
    ...(url !== undefined ? { url: secretUrl ? safeUrl(url) : url } : {}),
    ...(secretUrl ? { encryptedUrl: encryptSecret(key, url) } : {}),
    ...(headers
      ? {
          encryptedHeaders: Object.fromEntries(
            Object.entries(headers).map(([n, v]) => [n, encryptSecret(key, v)]),
          ),
        }
      : {}),
  };
}

function jobPayload(
  flags: SyncFlags & { source: NonNullable<SyncFlags['source']> },
): Omit<SyncJobPayload, 'encryptedHeaders'> & { headers?: Record<string, string> } {
  const headers = parseHeaders(flags.header);
  return {
    source: flags.source,
    ...(flags.sourceName ? { sourceName: flags.sourceName } : {}),
    ...(flags.file ? { file: flags.file } : {}),
    ...(flags.url ? { url: flags.url } : {}),
    ...(flags.company ? { company: flags.company } : {}),
    ...(flags.mapping ? { mapping: flags.mapping } : {}),
    ...(headers ? { headers } : {}),
    ...(flags.map.length > 0 ? { map: flags.map } : {}),
    ...(flags.delimiter ? { delimiter: flags.delimiter } : {}),
    ...(flags.delivery ? { delivery: flags.delivery } : {}),
    ...(flags.defaultCountry ? { defaultCountry: flags.defaultCountry } : {}),
    ...(flags.maxOffboard ? { maxOffboard: flags.maxOffboard } : {}),
    ...(flags.force ? { force: true } : {}),
  };
}

export function registerSyncCommand(program: Command): void {
  const sync = program
    .command('sync')
    .description(
      'Sync DoorFlow with an HR roster: joiners get passes, movers are updated, leavers are offboarded',
    )
    .addOption(
      // Checked in the action, not by commander: `sync plans|approve|reject` take no source.
      new Option('--source <kind>', 'roster source (required)').choices(['csv', 'bamboohr', 'json']),
    )
    .option(
      '--source-name <name>',
      'what safety checks, plan history and quarantine are kept under (default: the kind plus company or URL host; csv for files)',
    )
    .option('--file <path>', 'CSV roster file (--source csv)')
    .option('--url <url>', 'CSV or JSON feed URL')
    .option('--company <name>', 'BambooHR company subdomain (key in BAMBOOHR_API_KEY)')
    .option('--mapping <file>', 'JSON feed field-mapping file')
    .option('--header <h>', 'extra request header "Name: value" for feeds (repeatable)', collect, [])
    .option(
      '--header-file <file>',
      'feed request headers from a file ("-" for stdin), one "Name: value" a line: keeps secrets off argv',
    )
    .option('--since <iso>', 'BambooHR: only employees changed since (never offboards absentees)')
    .option('--map <spec>', 'CSV: map a column "Badge Ref=system_id" (repeatable)', collect, [])
    .option('--delimiter <d>', 'CSV: , ; tab or |')
    .addOption(
      new Option('--delivery <channel>', 'how invitations reach joiners').choices([...DELIVERY_CHANNELS]),
    )
    .option('--default-country <cc>', 'country for national mobile numbers')
    .option('--dry-run', 'print the plan; change nothing')
    .option('--json', 'machine-readable output')
    .option('--force', 'apply even when a safety check refuses (else the plan is quarantined: sync plans)')
    .option('--max-offboard <n>', 'refuse when more would be offboarded: N or P% (default max(25, 5 %))')
    .option('--wait', 'wait until joiners are provisioned and leavers offboarded')
    .option('--schedule <cron>', 'register a nightly job scheduler instead of syncing now, e.g. "0 2 * * *"')
    .option('--tz <zone>', 'time zone for --schedule, e.g. Europe/London')
    .option('--unschedule', 'remove the job scheduler of this source')
    .action(async (given: SyncFlags) => {
      const source = given.source;
      if (!source) {
        console.error("error: required option '--source <kind>' not specified");
        process.exitCode = EXIT.usage;
        return;
      }
      let flags: SyncFlags & { source: typeof source };
      try {
        flags = { ...given, source, header: [...given.header, ...headerFileLines(given.headerFile)] };
      } catch (err) {
        if (reportUsageError(err)) return;
        throw err;
      }
      if (flags.maxOffboard) parseOffboardLimit(flags.maxOffboard);
      const config = buildConfig();
      if (flags.source === 'bamboohr' && !flags.unschedule && !config.hris.bamboohrApiKey) {
        // Before anything connects or is scheduled: a scheduled sync without it fails every night.
        throw missingApiKey();
      }
      const runtime = buildRuntime(config);
      const interruption = abortOnSignal();
      try {
        const pipeline = openPipeline(runtime);
        const payload = jobPayload(flags);
        const schedulerId = `sync:${sourceIdOf(payload)}`;
        const queue = pipeline.queues.get('sync');
        if (flags.unschedule) {
          const removed = await queue.removeJobScheduler(schedulerId);
          console.log(removed ? `removed the schedule ${schedulerId}` : `no schedule ${schedulerId}`);
          process.exitCode = removed ? EXIT.ok : EXIT.failure;
          return;
        }
        if (flags.schedule) {
          await queue.upsertJobScheduler(
            schedulerId,
            { pattern: flags.schedule, ...(flags.tz ? { tz: flags.tz } : {}) },
            {
              name: 'sync',
              data: scheduledPayload(flags, config.encryptionKey),
              opts: { attempts: 1, removeOnComplete: 50, removeOnFail: 50 },
            },
          );
          const next = (await queue.getJobScheduler(schedulerId))?.next;
          console.log(
            `scheduled ${schedulerId}: "${flags.schedule}"${flags.tz ? ` (${flags.tz})` : ''}` +
              `${next ? `, next run ${new Date(next).toISOString()}` : ''}; workers run it`,
          );
          return;
        }
        const deps = syncDepsOf(pipeline.processorDeps());
        const report = await runSync(deps, {
          ...payload,
          ...(flags.since ? { since: flags.since } : {}),
          dryRun: flags.dryRun === true,
          signal: interruption.signal,
        });
        if (report.runId && !flags.dryRun) {
          await auditRequest(pipeline.audit, 'sync', {
            action: 'run.start',
            targetType: 'run',
            targetId: report.runId,
            runId: report.runId,
            after: { source: sourceIdOf(payload) },
          });
        }
        if (flags.json) console.log(JSON.stringify(report, null, 2));
        else for (const line of describeSync(report)) console.log(line);
        if (report.refused) {
          if (report.quarantined && !flags.json) {
            const id = report.quarantined.id;
            console.log(`plan ${id} quarantined: sync approve ${id} applies it, sync reject ${id} drops it`);
          }
          process.exitCode = EXIT.refused;
          return;
        }
        if (flags.wait && report.runId) {
          const progress = await waitForSync(deps, report.runId, { signal: interruption.signal });
          const run = await pipeline.runs.get(report.runId);
          const failed = (run?.dead ?? 0) + progress.failed;
          if (!flags.json)
            console.log(`sync ${report.runId} finished: ${progress.offboarded} offboarded, ${failed} failed`);
          process.exitCode = failed > 0 ? EXIT.failure : EXIT.ok;
          return;
        }
        process.exitCode = EXIT.ok;
      } catch (err) {
        if (err instanceof SourceError) {
          console.error(`error: ${err.message}; nothing was changed`);
          process.exitCode = EXIT.unavailable;
          return;
        }
        if (reportUsageError(err)) return;
        throw err;
      } finally {
        interruption.dispose();
        await runtime.close();
      }
    });
  registerSyncPlanCommands(sync);
}
