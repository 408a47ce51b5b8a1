import type { Command } from 'commander';
import { type Config, forAccount } from '../lib/core/config.ts';
import { describeConfig } from '../lib/core/config-describe.ts';
import { ConfigError } from '../lib/core/errors.ts';
import { describeRedis, isRedisUnavailable } from '../lib/core/redis-errors.ts';
import { channelSettingProblems } from '../lib/delivery/channel-settings.ts';
import { checkDoorFlowConnectivity } from '../lib/doorflow/connectivity.ts';
import { checkEvictionPolicy } from '../lib/core/redis.ts';
import { openPipeline } from '../app/pipeline.ts';
import { buildConfig, buildRuntime, type Runtime, servedAccounts } from '../app/runtime.ts';
import { EXIT } from './exit-codes.ts';

/**
 * One line of `config check`. A failed check is either a configuration problem (a setting is
 * missing or wrong, or DoorFlow refused the token: exit 3) or a service that did not answer
 * (Redis or DoorFlow unreachable: exit 4).
 */
interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  problem?: 'config' | 'unavailable';
}

/** DoorFlow error codes that mean our settings are wrong, not that DoorFlow is away. */
const CONFIG_CODES = new Set(['unauthorized', 'forbidden', 'auth_paused', 'config_invalid', 'not_found']);

/** What the delivery channels of DELIVERY_DEFAULT and DELIVERY_FALLBACK need, one check per missing setting. */
function deliveryChecks(cfg: Config): CheckResult[] {
  const d = cfg.delivery;
  const problems = channelSettingProblems(cfg, [
    { channel: d.defaultChannel, chosenBy: `DELIVERY_DEFAULT=${d.defaultChannel}` },
    ...d.fallback.map((channel) => ({ channel, chosenBy: 'DELIVERY_FALLBACK' })),
  ]);
  if (problems.length === 0) {
    const channels = [d.defaultChannel, ...d.fallback].join(', ');
    return [{ name: 'delivery', ok: true, detail: `settings present for ${channels}` }];
  }
  return problems.map((p) => ({
    name: 'delivery',
    ok: false,
    detail: `${p.variable}: ${p.expected}`,
    problem: 'config',
  }));
}

/** Redis (PING, eviction policy) and DoorFlow end to end (an authenticated read with our token). */
async function connectivityChecks(
  cfg: Config,
  runtime: Runtime,
  accounts: readonly string[],
): Promise<CheckResult[]> {
  if (!cfg.redisUrl && !cfg.redisCluster) {
    return [
      {
        name: 'redis',
        ok: false,
        detail: 'REDIS_URL (or REDIS_CLUSTER_NODES) is not set (demo/simulate use an embedded one)',
        problem: 'config',
      },
      { name: 'doorflow', ok: false, detail: 'skipped: needs REDIS_URL (budget and tokens live in Redis)' },
    ];
  }
  const where = describeRedis(cfg);
  const pipeline = openPipeline(runtime);
  const checks: CheckResult[] = [];
  try {
    await pipeline.redis.ping();
    const policy = await checkEvictionPolicy(pipeline.redis, runtime.logger);
    const ok = policy === undefined || policy === 'noeviction';
    checks.push({
      name: 'redis',
      ok,
      detail: `${where}: PING ok; maxmemory-policy ${policy ?? 'unknown'}${ok ? '' : ' (expected noeviction)'}`,
      ...(ok ? {} : { problem: 'config' as const }),
    });
  } catch (err) {
    const detail = isRedisUnavailable(err)
      ? `Redis at ${where} is unreachable`
      : `${where}: ${err instanceof Error ? err.message : String(err)}`;
    checks.push({ name: 'redis', ok: false, detail, problem: 'unavailable' });
    checks.push({
      name: 'doorflow',
      ok: false,
      detail: 'skipped: needs Redis (budget and tokens live in Redis)',
    });
    return checks;
  }
  // DoorFlow: the client keeps its budget and tokens in Redis, so it is checked with it; each
  // account with its own grant.
  for (const account of accounts) {
    const own = account === cfg.account ? pipeline : openPipeline(runtime, {}, forAccount(cfg, account));
    const doorflow = await checkDoorFlowConnectivity(own.doorflow(), own.config.doorflow);
    checks.push({
      name: checkName('doorflow', account, accounts),
      ok: doorflow.ok,
      detail: doorflow.detail,
      ...(doorflow.ok
        ? {}
        : { problem: doorflow.code && !CONFIG_CODES.has(doorflow.code) ? 'unavailable' : 'config' }),
    });
  }
  return checks;
}

/** `doorflow`, or `doorflow[london]` when several accounts are checked. */
function checkName(name: string, account: string, accounts: readonly string[]): string {
  return accounts.length > 1 ? `${name}[${account}]` : name;
}

/** Exit 3 for any configuration problem, else 4 for an unreachable service, else 0. */
function exitCodeOf(checks: readonly CheckResult[]): number {
  if (checks.some((c) => c.problem === 'config')) return EXIT.config;
  if (checks.some((c) => !c.ok)) return EXIT.unavailable;
  return EXIT.ok;
}

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('Inspect and check the configuration');
  config
    .command('check')
    .description(
      'Print the parsed configuration (secrets masked), check the delivery channels’ settings, and test Redis and the DoorFlow token end to end; reports every problem at once',
    )
    .option('--json', 'machine-readable output')
    .option('--no-connect', 'only validate the configuration, do not connect anywhere')
    .action(async (options: { json?: boolean; connect: boolean }) => {
      let cfg: Config;
      try {
        // Without --account every account is checked.
        cfg = buildConfig({}, { all: true });
      } catch (err) {
        if (!(err instanceof ConfigError) || !options.json) throw err;
        console.log(JSON.stringify({ problems: err.problems, ok: false }, null, 2));
        process.exitCode = EXIT.config;
        return;
      }
      const runtime = buildRuntime(cfg);
      const accounts = servedAccounts(cfg);
      const checks = accounts.flatMap((account) =>
        deliveryChecks(forAccount(cfg, account)).map((c) => ({
          ...c,
          name: checkName(c.name, account, accounts),
        })),
      );
      try {
        if (options.connect) checks.push(...(await connectivityChecks(cfg, runtime, accounts)));
      } finally {
        await runtime.close();
      }
      const ok = checks.every((c) => c.ok);
      if (options.json) {
        console.log(JSON.stringify({ config: describeConfig(cfg), checks, ok }, null, 2));
      } else {
        console.log(JSON.stringify(describeConfig(cfg), null, 2));
        for (const c of checks) console.log(`${c.ok ? '✔' : '✖'} ${c.name}: ${c.detail}`);
        const failed = checks.filter((c) => !c.ok).length;
        if (failed > 0) console.log(`${failed} ${failed === 1 ? 'problem' : 'problems'} found`);
      }
      process.exitCode = exitCodeOf(checks);
    });
}
