/**
 * `npm run chaos [-- --quick] [-- --only name,name]`: runs the chaos scenarios one after another
 * (each against its own redis-server, simulator and worker processes), prints a table, and writes
 * every figure to chaos/results/<date>.json and chaos/results/latest.json (RELIABILITY.md quotes
 * them). Exit code 1 when any scenario broke an invariant.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { fuzzCsv } from './scenarios/fuzz-csv.ts';
import { fuzzLimits } from './scenarios/fuzz-limits.ts';
import { fuzzWebhooks } from './scenarios/fuzz-webhooks.ts';
import { lostResponses, rateLimitStorm, serverErrors } from './scenarios/faults.ts';
import { batchKills, clusterMasterKill, redisCrashes, workerKills } from './scenarios/kills.ts';
import { doubleImport, sigtermInFlight } from './scenarios/runs.ts';
import type { Scenario, ScenarioResult } from './scenario.ts';
import { gitState } from '../bench/common.ts';

const SCENARIOS: Scenario[] = [
  workerKills,
  batchKills,
  lostResponses,
  redisCrashes,
  clusterMasterKill,
  rateLimitStorm,
  serverErrors,
  doubleImport,
  sigtermInFlight,
  fuzzCsv,
  fuzzLimits,
  fuzzWebhooks,
];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function machine() {
  const redis = execFileSync('redis-server', ['--version']).toString().trim();
  return {
    nproc: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    redis,
    loadAverageAtStart: loadavg().map((n) => Number(n.toFixed(2))),
    ...gitState(),
  };
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = arg('--only')
    ?.split(',')
    .map((s) => s.trim());
  const chosen = only ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;
  if (only && chosen.length !== only.length) {
    console.error(`unknown scenario; choose from: ${SCENARIOS.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  const startedAt = new Date();
  const t0 = Date.now();
  const log = (line: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);
  const info = machine();
  log(`chaos ${quick ? 'quick' : 'full'}: ${chosen.map((s) => s.name).join(', ')} — ${JSON.stringify(info)}`);
  const results: (ScenarioResult & { title: string; loadAverageAfter: number[] })[] = [];
  for (const scenario of chosen) {
    log(`▶ ${scenario.name}: ${scenario.title}`);
    const result = await scenario.run({ quick, log });
    results.push({
      ...result,
      title: scenario.title,
      loadAverageAfter: loadavg().map((n) => Number(n.toFixed(2))),
    });
    log(`${result.ok ? '✔' : '✘'} ${scenario.name} in ${(result.durationMs / 1000).toFixed(1)} s`);
    log(`  figures ${JSON.stringify(result.figures)}`);
    if (result.invariants) log(`  invariants ${JSON.stringify(result.invariants.figures)}`);
    for (const f of result.failures) log(`  FAILED: ${f}`);
  }
  const report = {
    command: `npm run chaos${quick || only ? ' --' : ''}${quick ? ' --quick' : ''}${only ? ` --only ${only.join(',')}` : ''}`,
    startedAt: startedAt.toISOString(),
    mode: quick ? 'quick' : 'full',
    machine: { ...info, loadAverageAtEnd: loadavg().map((n) => Number(n.toFixed(2))) },
    results,
  };
  await mkdir('chaos/results', { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const body = `${JSON.stringify(report, null, 2)}\n`;
  const tag = only ? `${report.mode}-${only.join('+')}` : report.mode;
  await writeFile(`chaos/results/${stamp}-${tag}.json`, body);
  await writeFile(`chaos/results/latest-${tag}.json`, body);
  console.log('\nscenario                 result  seconds');
  for (const r of results) {
    console.log(`${r.name.padEnd(24)} ${r.ok ? 'ok    ' : 'FAILED'}  ${(r.durationMs / 1000).toFixed(1)}`);
  }
  const failed = results.filter((r) => !r.ok).length;
  console.log(failed ? `\n${failed} scenario(s) failed` : '\nall invariants held');
  process.exit(failed ? 1 : 0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
