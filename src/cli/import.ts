import { access } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { type Command, Option } from 'commander';
import { isSameFile } from '../lib/core/private-file.ts';
import { ConfigError } from '../lib/core/errors.ts';
import { channelSettingProblems } from '../lib/delivery/channel-settings.ts';
import {
  DELIVERY_CHANNELS,
  type DeliveryChannelName,
  parseChannelList,
} from '../lib/delivery/channel-names.ts';
import { buildConfig, buildRuntime } from '../app/runtime.ts';
import { type CsvImportOptions, importCsv } from '../producers/csv-import.ts';
import { describeHeadroom } from '../lib/ops/licence-headroom.ts';
import { checkLicences, describeLicenceRefusal } from './import-licences.ts';
import { isSupportedCountry } from '../lib/delivery/phone.ts';
import { createImportProgress, describeImport, importWarnings } from './import-report.ts';
import { EXIT, reportUsageError } from './exit-codes.ts';
import { auditRequest } from './operator.ts';
import type { Pipeline } from '../app/pipeline.ts';
import { buildRunView, formatRunView, type RunView } from './run-summary.ts';
import { abortOnSignal } from './shutdown.ts';
import { parseDurationMs } from '../lib/core/config-fields.ts';
import { describeRedis, isRedisUnavailable } from '../lib/core/redis-errors.ts';

/** How often `import --wait` looks for live workers (the warning comes within 15 s). */
const WORKER_CHECK_MS = 5_000;

export interface WaitForRunOptions {
  tty: boolean;
  pollMs?: number;
  signal?: AbortSignal;
  /**
   * Give up this long after the command started (`--timeout`, so the import itself counts); wait
   * for as long as it takes when absent.
   */
  timeoutMs?: number;
  /** Takes the finished run instead of printing it (`import --json --wait` prints one JSON document). */
  onFinished?: (view: RunView) => void;
}

/**
 * Polls the run until it finishes, with a progress bar on a TTY. Resolves with the exit code:
 * 0 only when every entry was provisioned (newly or already); 1 when `--timeout` ran out first;
 * 4 when it ran out while Redis was unreachable. A Redis outage is waited through (one line on
 * stderr), and a warning goes to stderr while no worker is alive to process the run.
 */
export async function waitForRun(
  pipeline: Pipeline,
  runId: string,
  options: WaitForRunOptions,
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
  const deadline = options.timeoutMs === undefined ? undefined : performance.timeOrigin + options.timeoutMs;
  const redisName = describeRedis(pipeline.config);
  let started = false;
  let redisAway = false;
  let warnedNoWorkers = false;
  let lastWorkerCheck = 0;
  let progress = '';
  let view: RunView | undefined;
  try {
    for (;;) {
      if (options.signal?.aborted) {
        bar?.stop();
        // Only the waiting stops: the entries are in Redis and the workers go on with them.
        console.error(
          `interrupted: run ${runId} carries on in the workers; follow it with \`doorflow-provisioner runs show ${runId}\` (stop it with \`runs cancel ${runId}\`)`,
        );
        return EXIT.interrupted;
      }
      const timedOut = deadline !== undefined && Date.now() >= deadline;
      let run: Awaited<ReturnType<Pipeline['runs']['get']>>;
      try {
        const read = await pipeline.runs.get(runId);
        // Once finished, the run is read again as a whole with its summary, and the decision and
        // the output both come from that one view (a dead-letter replay may reopen it in between).
        view =
          read?.finishedAt !== undefined
            ? await buildRunView(pipeline, runId, { withActive: false })
            : undefined;
        run = view?.run ?? read;
        if (Date.now() - lastWorkerCheck >= WORKER_CHECK_MS) {
          lastWorkerCheck = Date.now();
          const live = await pipeline.stores.workers.live();
          if (live.length === 0 && !warnedNoWorkers) {
            bar?.stop();
            console.error('warning: no live workers: start `doorflow-provisioner worker`');
          }
          warnedNoWorkers = live.length === 0;
        }
      } catch (err) {
        if (!isRedisUnavailable(err)) throw err;
        if (timedOut) {
          bar?.stop();
          console.error(`error: gave up waiting for run ${runId}: Redis at ${redisName} is unreachable`);
          return EXIT.unavailable;
        }
        if (!redisAway) {
          bar?.stop();
          console.error(`Redis at ${redisName} is unreachable: still waiting for run ${runId}`);
        }
        redisAway = true;
        await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
        continue;
      }
      if (redisAway) console.error(`Redis at ${redisName} answers again: waiting for run ${runId}`);
      redisAway = false;
      if (!run) throw new Error(`run ${runId} not found`);
      const provisioned = (run.counts.provisioned ?? 0) + (run.counts.already_provisioned ?? 0);
      const settled = provisioned + run.dead + (run.counts.invalid ?? 0) + (run.counts.cancelled ?? 0);
      progress = `${settled}/${run.total} entries settled`;
      if (bar) {
        if (!started) bar.start(run.total, settled, { provisioned, dead: run.dead });
        started = true;
        bar.setTotal(run.total);
        bar.update(settled, { provisioned, dead: run.dead + (run.counts.invalid ?? 0) });
      }
      if (view && run.finishedAt !== undefined) break;
      if (timedOut) {
        bar?.stop();
        console.error(
          `error: run ${runId} not finished within --timeout (${progress}); it carries on in the workers: runs show ${runId}`,
        );
        return EXIT.failure;
      }
      await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
    }
  } finally {
    bar?.stop();
  }
  if (!view) return EXIT.failure;
  if (options.onFinished) options.onFinished(view);
  else console.log(formatRunView(view));
  return view.succeeded ? EXIT.ok : EXIT.failure;
}

const collect = (value: string, previous: string[]) => [...previous, value];

interface ImportFlags {
  delivery?: DeliveryChannelName;
  fallback?: string;
  wait?: boolean;
  timeout?: string;
  prefetch: boolean;
  map: string[];
  delimiter?: string;
  errors?: string;
  strict?: boolean;
  dryRun?: boolean;
  json?: boolean;
  window: string;
  defaultCountry?: string;
  allowPartial?: boolean;
}

export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description(
      'Import a roster CSV as a new run (streamed; header aliases such as "Employee ID", "Given Name")',
    )
    .argument('<file>', 'CSV file with a header row (, ; or tab separated; UTF-8 with or without BOM)')
    .addOption(
      new Option('--delivery <channel>', 'how invitations reach people').choices([...DELIVERY_CHANNELS]),
    )
    .option(
      '--fallback <channels>',
      'channels to try, in order, for people the chosen one cannot reach, e.g. "sms,doorflow" (default DELIVERY_FALLBACK)',
    )
    .option(
      '--wait',
      'wait until the run finishes (through Redis outages); exit 0 only if every entry was provisioned',
    )
    .option(
      '--timeout <duration>',
      'with --wait: give up this long after the command started, e.g. 20s or 10m (exit 1; exit 4 if Redis is unreachable then). Default: none',
    )
    .option(
      '--no-prefetch',
      'never list the account’s people first (by default they are listed when that costs fewer calls than one lookup per entry)',
    )
    .option('--map <spec>', 'map a column: "Badge Ref=system_id" (repeatable)', collect, [])
    .option('--delimiter <d>', 'field delimiter: , ; tab or | (default: detected from the header)')
    .option('--errors <file>', 'write rejected rows to this CSV (line, reason, original fields)')
    .option('--strict', 'reject the whole file if any row is invalid')
    .option('--dry-run', 'validate and report only; touch neither Redis nor DoorFlow')
    .option('--json', 'print a machine-readable summary')
    .option('--window <n>', 'at most this many entries of the run waiting in Redis at once', '20000')
    .option('--default-country <cc>', 'country for national mobile numbers (e.g. GB)')
    .option(
      '--allow-partial',
      'import even when more people need an HID licence than are free (the rest are dead-lettered licence_limit)',
    )
    .action(async (file: string, options: ImportFlags) => {
      const config = buildConfig();
      const channel = options.delivery ?? config.delivery.defaultChannel;
      const window = Number(options.window);
      if (!Number.isInteger(window) || window < 1) {
        console.error('error: --window expects a positive whole number');
        process.exitCode = EXIT.usage;
        return;
      }
      if (options.defaultCountry && !isSupportedCountry(options.defaultCountry)) {
        console.error(
          `error: --default-country ${options.defaultCountry} is not supported (expected an ISO 3166-1 alpha-2 code such as GB, US or NG)`,
        );
        process.exitCode = EXIT.usage;
        return;
      }
      const timeoutMs = options.timeout === undefined ? undefined : parseDurationMs(options.timeout);
      if (options.timeout !== undefined && (timeoutMs === undefined || timeoutMs <= 0)) {
        console.error('error: --timeout expects a duration such as 20s, 10m or 1h');
        process.exitCode = EXIT.usage;
        return;
      }
      const fallback =
        options.fallback !== undefined ? parseChannelList(options.fallback) : config.delivery.fallback;
      if (!fallback) {
        console.error(
          `error: --fallback expects channels from ${DELIVERY_CHANNELS.join(', ')}, comma-separated`,
        );
        process.exitCode = EXIT.usage;
        return;
      }
      // A dry run checks them too: it never passes where the real import would exit 3.
      const problems = channelSettingProblems(config, [
        {
          channel,
          chosenBy: options.delivery !== undefined ? `--delivery ${channel}` : 'DELIVERY_DEFAULT',
        },
        ...fallback.map((c) => ({
          channel: c,
          chosenBy: options.fallback !== undefined ? '--fallback' : 'DELIVERY_FALLBACK',
        })),
      ]);
      if (problems.length > 0) throw new ConfigError(problems);
      if (options.errors && isSameFile(options.errors, file)) {
        console.error(`error: --errors ${options.errors} is the roster being imported; choose another file`);
        process.exitCode = EXIT.usage;
        return;
      }
      try {
        await access(file);
      } catch {
        console.error(`error: cannot read ${file}`);
        process.exitCode = EXIT.usage;
        return;
      }
      const runtime = buildRuntime(config);
      const interruption = abortOnSignal();
      const progress = createImportProgress(Boolean(process.stderr.isTTY) && !options.json);
      try {
        let pipeline: Pipeline | undefined;
        if (!options.dryRun) {
          // Loaded only here: a dry run carries neither Redis, BullMQ nor the DoorFlow client.
          const { openPipeline } = await import('../app/pipeline.ts');
          // --wait is long-running: its connection reconnects for as long as Redis is away.
          pipeline = openPipeline(runtime, options.wait ? { role: 'service' } : {});
          // Nothing is queued for an account whose HID type cannot be told apart (exit 3). An
          // unreachable DoorFlow is not decided here: the run's own calls report it.
          await pipeline
            .processorDeps()
            .hidCredentialTypeId()
            .catch((err: unknown) => {
              if (err instanceof ConfigError) throw err;
            });
        }
        const importOptions: CsvImportOptions = {
          file,
          delivery: channel,
          deliveryExplicit: options.delivery !== undefined,
          fallback,
          map: options.map,
          ...(options.delimiter ? { delimiter: options.delimiter } : {}),
          ...(options.defaultCountry ? { defaultCountry: options.defaultCountry } : {}),
          strict: options.strict === true,
          dryRun: options.dryRun === true,
          window,
          prefetch: options.prefetch,
          signal: interruption.signal,
          onProgress: progress.update,
        };
        // Before the first write: more joiners than free licences is refused unless --allow-partial.
        const licences = pipeline ? await checkLicences(pipeline, importOptions) : undefined;
        if (licences) {
          // Stdout stays one JSON document with --json.
          const say = options.json ? console.error : console.log;
          say(`${describeHeadroom(licences.headroom)}; this import needs ${licences.need}`);
          if (licences.need > licences.headroom.free && !options.allowPartial) {
            progress.stop();
            if (options.json) console.log(JSON.stringify({ refused: true, licences }, null, 2));
            say(describeLicenceRefusal(licences));
            process.exitCode = EXIT.refused;
            return;
          }
        }
        const summary = await importCsv(pipeline?.intakeDeps(true), {
          ...importOptions,
          ...(options.errors ? { errorsPath: options.errors } : {}),
        });
        progress.stop();
        if (pipeline && summary.run) {
          await auditRequest(pipeline.audit, 'import', {
            action: 'run.start',
            targetType: 'run',
            targetId: summary.run.runId,
            runId: summary.run.runId,
            after: { source: file, delivery: channel, entries: summary.run.accepted },
          });
        }
        for (const warning of importWarnings(summary)) console.error(warning);
        // With --json, stdout is one JSON document: after --wait, the summary and the finished run.
        const waiting = options.wait === true && pipeline !== undefined && summary.run !== undefined;
        let finished: RunView | undefined;
        if (!options.json) for (const line of describeImport(summary)) console.log(line);
        else if (!waiting || summary.strictRejected || summary.readError)
          console.log(JSON.stringify(summary, null, 2));
        if (summary.readError) {
          // The rows before the bad record are queued and their run closed; the file needs fixing.
          console.error(`error: ${summary.readError}`);
          process.exitCode = EXIT.usage;
        } else if (summary.strictRejected) process.exitCode = EXIT.failure;
        else if (waiting && pipeline && summary.run) {
          process.exitCode = await waitForRun(pipeline, summary.run.runId, {
            tty: Boolean(process.stdout.isTTY) && !options.json,
            signal: interruption.signal,
            ...(timeoutMs === undefined ? {} : { timeoutMs }),
            ...(options.json
              ? {
                  onFinished: (view: RunView) => {
                    finished = view;
                  },
                }
              : {}),
          });
          if (options.json) console.log(JSON.stringify({ ...summary, finished }, null, 2));
        } else {
          const rejected = summary.run
            ? summary.run.rejected
            : summary.rows.invalid - summary.rows.duplicates;
          process.exitCode = rejected > 0 ? EXIT.failure : EXIT.ok;
        }
      } catch (err) {
        progress.stop();
        if (reportUsageError(err)) return;
        throw err;
      } finally {
        interruption.dispose();
        await runtime.close();
      }
    });
}
