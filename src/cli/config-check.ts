import type { Command } from 'commander';
import { describeConfig } from '../lib/core/config.ts';
import { checkDoorFlowConnectivity } from '../lib/doorflow/connectivity.ts';
import { checkEvictionPolicy } from '../lib/core/redis.ts';
import { openPipeline } from '../app/pipeline.ts';
import { buildConfig, buildRuntime } from '../app/runtime.ts';
import { EXIT } from './exit-codes.ts';

interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('Inspect and check the configuration');
  config
    .command('check')
    .description('Print the parsed configuration (secrets masked) and test Redis and DoorFlow connectivity')
    .option('--json', 'machine-readable output')
    .option('--no-connect', 'only validate the configuration, do not connect anywhere')
    .action(async (options: { json?: boolean; connect: boolean }) => {
      const cfg = buildConfig();
      const runtime = buildRuntime(cfg);
      const checks: CheckResult[] = [];
      try {
        if (options.connect) {
          if (!cfg.redisUrl) {
            checks.push({
              name: 'redis',
              ok: false,
              detail: 'REDIS_URL is not set (demo/simulate use an embedded one)',
            });
            checks.push({
              name: 'doorflow',
              ok: false,
              detail: 'skipped: needs REDIS_URL (budget and tokens live in Redis)',
            });
          } else {
            const pipeline = openPipeline(runtime);
            const redis = pipeline.redis;
            try {
              await redis.ping();
              const policy = await checkEvictionPolicy(redis, runtime.logger);
              checks.push({
                name: 'redis',
                ok: policy === undefined || policy === 'noeviction',
                detail: `PING ok; maxmemory-policy ${policy ?? 'unknown'}`,
              });
            } catch (err) {
              checks.push({
                name: 'redis',
                ok: false,
                detail: err instanceof Error ? err.message : String(err),
              });
            }
            // DoorFlow: the client keeps its budget and tokens in Redis, so it is checked with it.
            const doorflow = await checkDoorFlowConnectivity(pipeline.doorflow(), cfg.doorflow);
            checks.push({ name: 'doorflow', ok: doorflow.ok, detail: doorflow.detail });
          }
        }
      } finally {
        await runtime.close();
      }
      const ok = checks.every((c) => c.ok);
      if (options.json) {
        console.log(JSON.stringify({ config: describeConfig(cfg), checks, ok }, null, 2));
      } else {
        console.log(JSON.stringify(describeConfig(cfg), null, 2));
        for (const c of checks) console.log(`${c.ok ? '✔' : '✖'} ${c.name}: ${c.detail}`);
      }
      process.exitCode = ok ? EXIT.ok : EXIT.unavailable;
    });
}
