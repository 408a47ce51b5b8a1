import type { Command } from 'commander';
import { withPipelineCommand } from '../app/pipeline.ts';
import { terminalSafe } from '../lib/core/terminal-text.ts';
import type { PlanSummary } from '../lib/store/sync-plans.ts';
import { syncDepsOf } from '../processors/sync.ts';
import { openPlan, rejectPlan } from '../producers/sync/quarantine.ts';
import { approvePlan } from '../producers/sync/sync.ts';
import { EXIT } from './exit-codes.ts';
import { cliOperator } from './operator.ts';
import { type Column, formatTable } from './table.ts';

/**
 * `sync plans [--json]`, `sync approve ID [--json]`, `sync reject ID [--json]`: the plans a safety
 * check quarantined, applying exactly one (refused with the numbers when DoorFlow moved since), or
 * dropping it. Both decisions are audited with the OS user and host who made them.
 */

const iso = (ms: number) => new Date(ms).toISOString();

const PLAN_COLUMNS: Column<PlanSummary>[] = [
  { header: 'PLAN', cell: (p) => p.id },
  { header: 'QUARANTINED', cell: (p) => iso(p.quarantinedAt) },
  { header: 'CREATE', cell: (p) => p.counts.create },
  { header: 'UPDATE', cell: (p) => p.counts.update },
  { header: 'OFFBOARD', cell: (p) => p.counts.offboard },
  { header: 'HEADROOM', cell: (p) => (p.headroom === undefined ? '—' : String(p.headroom)) },
  { header: 'SOURCE', cell: (p) => terminalSafe(p.sourceName) },
];

/** Both options objects: `--json` may be parsed by `sync` itself. */
function jsonFlag(command: Command): boolean {
  return (command.optsWithGlobals() as { json?: boolean }).json === true;
}

const decider = () => ({ actor: 'cli:sync', operator: cliOperator() });

export function registerSyncPlanCommands(sync: Command): void {
  sync
    .command('plans')
    .description('Plans a safety check quarantined, waiting for sync approve / sync reject')
    .option('--json', 'machine-readable output (with each plan’s diff)')
    .action(async (_options: unknown, command: Command) => {
      await withPipelineCommand(async (pipeline) => {
        const plans = await pipeline.stores.syncPlans.list();
        if (jsonFlag(command)) {
          const deps = { plans: pipeline.stores.syncPlans, encryptionKey: pipeline.config.encryptionKey };
          const opened = await Promise.all(plans.map((p) => openPlan(deps, p.id)));
          const out = opened.flatMap((o) => (o ? [{ ...o.summary, plan: o.plan }] : []));
          console.log(JSON.stringify(out, null, 2));
          return EXIT.ok;
        }
        if (plans.length === 0) console.log('no quarantined plans');
        else {
          for (const row of formatTable(PLAN_COLUMNS, plans)) console.log(row);
          for (const p of plans) for (const r of p.refusals) console.log(`${p.id}: ${terminalSafe(r)}`);
        }
        return EXIT.ok;
      });
    });

  sync
    .command('approve')
    .description('Apply exactly the quarantined plan ID (refused, with the numbers, if DoorFlow moved since)')
    .argument('<id>', 'plan id (sync plans)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, _options: unknown, command: Command) => {
      await withPipelineCommand(async (pipeline) => {
        const result = await approvePlan(syncDepsOf(pipeline.processorDeps()), id, decider());
        if (jsonFlag(command)) console.log(JSON.stringify(result, null, 2));
        if (result.status === 'not_found') {
          console.error(`error: no quarantined plan ${id} (sync plans lists them)`);
          return EXIT.failure;
        }
        if (result.status === 'drifted') {
          if (!jsonFlag(command)) console.log(`REFUSED: ${result.reason}`);
          return EXIT.refused;
        }
        if (!jsonFlag(command)) {
          const c = result.summary.counts;
          console.log(
            `plan ${id} approved: sync run ${result.runId} started (create ${c.create}, update ${c.update}, offboard ${c.offboard})`,
          );
        }
        return EXIT.ok;
      });
    });

  sync
    .command('reject')
    .description('Drop the quarantined plan ID; DoorFlow is not touched')
    .argument('<id>', 'plan id (sync plans)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, _options: unknown, command: Command) => {
      await withPipelineCommand(async (pipeline) => {
        const summary = await rejectPlan(
          {
            plans: pipeline.stores.syncPlans,
            syncRuns: pipeline.stores.syncRuns,
            clock: { now: Date.now },
            audit: pipeline.audit,
          },
          id,
          decider(),
        );
        if (jsonFlag(command))
          console.log(
            JSON.stringify(summary ? { status: 'rejected', summary } : { status: 'not_found' }, null, 2),
          );
        if (!summary) {
          console.error(`error: no quarantined plan ${id} (sync plans lists them)`);
          return EXIT.failure;
        }
        if (!jsonFlag(command)) console.log(`plan ${id} rejected: nothing was changed`);
        return EXIT.ok;
      });
    });
}
