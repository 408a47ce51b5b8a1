import { hostname, userInfo } from 'node:os';
import type { AuditEntry, AuditLog } from '../lib/store/audit-log.ts';

/**
 * Who runs this CLI command, for the audit log: the OS user and host (`alice@ops-1 (cli)`). A
 * process without a user name (a container's numeric uid) is named by its uid.
 */
export function cliOperator(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = typeof process.getuid === 'function' ? `uid ${process.getuid()}` : 'unknown user';
  }
  return `${user}@${hostname()} (cli)`;
}

/**
 * Records an operator's request in the audit log (`run.start`, `credential.revoke.request`, …):
 * the workers' DoorFlow writes that follow name the same run, so the log says who asked for them.
 */
export async function auditRequest(
  audit: AuditLog,
  command: string,
  entry: Pick<AuditEntry, 'action' | 'targetType' | 'targetId' | 'runId' | 'key' | 'after'>,
): Promise<void> {
  await audit.record({ ...entry, actor: `cli:${command}`, operator: cliOperator() });
}
