import type { SyncReport } from '../producers/sync/sync.ts';
import { plural } from '../lib/core/plural.ts';
import { describeHeadroom } from '../lib/ops/licence-headroom.ts';

/** The human plan table for `sync` (the `--json` output is the report itself). */

const SHOW = 20;

function more(total: number): string[] {
  return total > SHOW ? [`    … ${total - SHOW} more (use --json for all)`] : [];
}

export function describeSync(report: SyncReport): string[] {
  const { plan } = report;
  const { counts, safety } = plan;
  const lines: string[] = [];
  lines.push(
    `source: ${report.source} — ${counts.source} entries (${counts.active} active, ${counts.inactive} inactive)` +
      `${report.problems.total ? `, ${report.problems.total} rejected` : ''}`,
  );
  if (report.ignoredFields.length > 0) lines.push(`ignored columns: ${report.ignoredFields.join(', ')}`);
  for (const { reason, count } of report.problems.reasons) lines.push(`  ${count} × ${reason}`);
  lines.push(`scope: ${counts.scope} DoorFlow people managed by this tool`);
  lines.push(
    `plan: create ${plan.create.length}, update ${plan.update.length}, offboard ${plan.offboard.length}, ` +
      `unchanged ${plan.unchanged}` +
      `${plan.alreadyOffboarded ? `, already offboarded ${plan.alreadyOffboarded}` : ''}` +
      `${plan.keptInvalid ? `, kept (invalid source row) ${plan.keptInvalid}` : ''}`,
  );
  lines.push(`HID licences: ${plan.licences.consume} consumed, ${plan.licences.release} released`);
  if (plan.licences.headroom) lines.push(describeHeadroom(plan.licences.headroom));
  for (const c of plan.create.slice(0, SHOW)) {
    lines.push(
      `  + ${c.key}  ${c.entry.first_name} ${c.entry.last_name}${c.reenable ? '  (rehire: re-enable)' : ''}`,
    );
  }
  lines.push(...more(plan.create.length));
  for (const u of plan.update.slice(0, SHOW)) {
    const fields = Object.entries(u.changes)
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(';') : String(v)}`)
      .join(', ');
    lines.push(`  ~ ${u.key}  person ${u.personId}: ${fields}`);
  }
  lines.push(...more(plan.update.length));
  for (const o of plan.offboard.slice(0, SHOW)) {
    lines.push(
      `  - ${o.key}  ${o.name} (person ${o.personId}, ${o.reason}): revoke ${plural(o.credentialIds.length, 'credential')}` +
        `${o.disable ? ', disable' : ''}`,
    );
  }
  lines.push(...more(plan.offboard.length));
  if (!safety.ok) {
    lines.push('REFUSED (use --force to apply anyway):');
    for (const r of safety.refusals) lines.push(`  ${r}`);
  } else if (safety.forced && safety.refusals.length > 0) {
    lines.push('forced past the safety checks:');
    for (const r of safety.refusals) lines.push(`  ${r}`);
  }
  if (report.dryRun) lines.push('dry run: nothing was changed');
  else if (report.runId) lines.push(`sync run ${report.runId} started`);
  return lines;
}
