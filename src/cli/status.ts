import type { Command } from 'commander';
import { plural } from '../lib/core/plural.ts';
import type { CredentialRecord, HistoryEntry } from '../lib/store/credentials.ts';
import { EXIT } from './exit-codes.ts';
import { resolvePersonId } from './lifecycle-cli.ts';
import { type Pipeline, withPipelineCommand } from '../app/pipeline.ts';

/**
 * `status (--person SYSTEM_ID | --credential ID) [--json]`: a credential's current status and its
 * timestamped history from the status store. For a person whose credentials were never tracked
 * here, DoorFlow's current view is shown instead (marked untracked).
 */

interface CredentialStatusView {
  id: string;
  tracked: boolean;
  status: string | null;
  since: string | null;
  personId: number | null;
  systemId: string | null;
  channel: string | null;
  reminders: number;
  reissues: number;
  replaces: string | null;
  replacedBy: string | null;
  history: HistoryEntry[];
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

function view(record: CredentialRecord, history: HistoryEntry[]): CredentialStatusView {
  return {
    id: record.id,
    tracked: true,
    status: record.status ?? null,
    since: iso(record.since),
    personId: record.personId ?? null,
    systemId: record.systemId ?? null,
    channel: record.channel ?? null,
    reminders: record.reminders,
    reissues: record.reissues,
    replaces: record.replaces ?? null,
    replacedBy: record.replacedBy ?? null,
    history,
  };
}

async function tracked(pipeline: Pipeline, id: string): Promise<CredentialStatusView | undefined> {
  const { credentials } = pipeline.stores;
  const record = await credentials.get(id);
  return record ? view(record, await credentials.history(id)) : undefined;
}

function print(c: CredentialStatusView): void {
  console.log(
    `credential ${c.id}: ${c.status ?? 'unknown'}${c.since ? ` since ${c.since}` : ''}${c.tracked ? '' : ' (untracked: live from DoorFlow)'}`,
  );
  const extras = [
    c.channel ? `channel ${c.channel}` : '',
    c.reminders ? plural(c.reminders, 'reminder') : '',
    c.replaces ? `replaces ${c.replaces}` : '',
    c.replacedBy ? `replaced by ${c.replacedBy}` : '',
  ].filter(Boolean);
  if (extras.length > 0) console.log(`  ${extras.join(', ')}`);
  for (const h of c.history)
    console.log(`  ${h.at}  ${(h.from ?? '—').padEnd(12)} → ${h.status.padEnd(12)} (${h.source})`);
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description("Show a credential's status and history (by person or credential)")
    .option('--person <systemId>', 'every credential of one person, by system_id')
    .option('--credential <id>', 'one credential by id')
    .option('--json', 'machine-readable output')
    .action(async (options: { person?: string; credential?: string; json?: boolean }) => {
      if (Boolean(options.person) === Boolean(options.credential)) {
        console.error('error: give exactly one of --person SYSTEM_ID or --credential ID');
        process.exitCode = EXIT.usage;
        return;
      }
      await withPipelineCommand(async (pipeline) => {
        const views: CredentialStatusView[] = [];
        let personId: number | undefined;
        if (options.credential) {
          const v = await tracked(pipeline, options.credential);
          if (v) views.push(v);
        } else {
          personId = await resolvePersonId(pipeline, options.person as string);
          if (personId !== undefined) {
            for (const id of await pipeline.stores.credentials.ofPerson(personId)) {
              const v = await tracked(pipeline, id);
              if (v) views.push(v);
            }
            if (views.length === 0) {
              for (const c of await pipeline.doorflow().listPersonCredentials(personId)) {
                views.push({
                  id: c.id,
                  tracked: false,
                  status: c.status ?? null,
                  since: null,
                  personId,
                  systemId: options.person ?? null,
                  channel: null,
                  reminders: 0,
                  reissues: 0,
                  replaces: null,
                  replacedBy: null,
                  history: [],
                });
              }
            }
          }
        }
        if (options.json) {
          console.log(
            JSON.stringify(
              { person: options.person ?? null, personId: personId ?? null, credentials: views },
              null,
              2,
            ),
          );
        } else if (views.length === 0) {
          console.log(
            options.person
              ? `no credential found for ${options.person}`
              : `credential ${options.credential} is not tracked`,
          );
        } else {
          if (options.person) console.log(`person ${options.person} (DoorFlow id ${personId})`);
          for (const v of views) print(v);
        }
        return views.length > 0 ? EXIT.ok : EXIT.failure;
      });
    });
}
