import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ProvisionerError } from '../lib/core/errors.ts';
import { EXIT } from './exit-codes.ts';
import { describeRedis, isRedisUnavailable } from '../lib/core/redis-errors.ts';
type Registration = (program: Command) => void;

/**
 * Each command lives in its own module and registers itself. Modules are loaded lazily: a command
 * loads only its own module (and so its own dependencies), which keeps start-up fast; root help
 * loads them all.
 */
const commands: Record<string, () => Promise<Registration>> = {
  config: async () => (await import('./config-check.ts')).registerConfigCommand,
  simulate: async () => (await import('./simulate.ts')).registerSimulateCommand,
  worker: async () => (await import('./worker.ts')).registerWorkerCommand,
  import: async () => (await import('./import.ts')).registerImportCommand,
  runs: async () => (await import('./runs.ts')).registerRunsCommand,
  dlq: async () => (await import('./dlq.ts')).registerDlqCommand,
  demo: async () => (await import('./demo.ts')).registerDemoCommand,
  audit: async () => (await import('./audit.ts')).registerAuditCommand,
  sync: async () => (await import('./sync.ts')).registerSyncCommand,
  serve: async () => (await import('./serve.ts')).registerServeCommand,
  status: async () => (await import('./status.ts')).registerStatusCommand,
  revoke: async () => (await import('./revoke.ts')).registerRevokeCommand,
  reissue: async () => (await import('./reissue.ts')).registerReissueCommand,
  reclaim: async () => (await import('./reclaim.ts')).registerReclaimCommand,
  auth: async () => (await import('./auth.ts')).registerAuthCommand,
  pause: async () => (await import('./run-control.ts')).registerPauseCommand,
  resume: async () => (await import('./run-control.ts')).registerResumeCommand,
};

/** The command a user asked for (`help NAME` counts as NAME), when it is one we know. */
function requestedCommand(argv: string[]): string | undefined {
  const words = argv.slice(2).filter((word) => !word.startsWith('-'));
  const first = words[0] === 'help' ? words[1] : words[0];
  return first !== undefined && Object.hasOwn(commands, first) ? first : undefined;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export async function buildProgram(argv: string[] = process.argv): Promise<Command> {
  const program = new Command()
    .name('doorflow-provisioner')
    .description('Bulk provisioning of HID Mobile Access passes through DoorFlow, driven by Redis queues.')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  const only = requestedCommand(argv);
  const versionOnly = argv.slice(2).some((word) => word === '--version' || word === '-V') && !only;
  const names = only ? [only] : versionOnly ? [] : Object.keys(commands);
  const registrations = await Promise.all(names.map((name) => commands[name]!()));
  for (const register of registrations) register(program);
  addAccountOption(program);
  return program;
}

/** Commands that start their own simulator and Redis: no DoorFlow account of the deployment's. */
const WITHOUT_ACCOUNT = new Set(['demo', 'simulate']);

/**
 * `--account NAME` on every command that touches DoorFlow or runs (every command but
 * demo/simulate), read once before the command runs: each later configuration selects it.
 */
function addAccountOption(program: Command): void {
  const tree = (command: Command): Command[] => [command, ...command.commands.flatMap(tree)];
  for (const top of program.commands) {
    if (WITHOUT_ACCOUNT.has(top.name())) continue;
    // Groups too (`sync` acts itself; `runs --account x list` reads like `runs list --account x`).
    for (const command of tree(top)) {
      command.option(
        '--account <name>',
        'DoorFlow account of DOORFLOW_ACCOUNTS_FILE (default: the only one, or default)',
      );
    }
  }
  program.hook('preAction', async (_program, action) => {
    // The nearest given: `runs list --account x`, else `runs --account x list`.
    let account: string | undefined;
    for (let c: Command | null = action; c && account === undefined; c = c.parent) {
      account = c.opts<{ account?: string }>().account;
    }
    const { chooseAccount } = await import('../app/runtime.ts');
    chooseAccount(account);
  });
}

/** REDIS_URL with its password masked (or the cluster's nodes), read again from the configuration (it parsed once already). */
async function redisName(): Promise<string> {
  try {
    const { buildConfig } = await import('../app/runtime.ts');
    return describeRedis(buildConfig({}, { all: true }));
  } catch {
    return 'REDIS_URL';
  }
}

export async function main(argv: string[]): Promise<number> {
  // `doorflow-provisioner … | head` closes the pipe early: that is the reader's choice, not a crash.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
    throw error;
  });
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.ok;
      if (error.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    if (isRedisUnavailable(error)) {
      // One line, no stack trace, naming the server with its password masked.
      console.error(`error: Redis at ${await redisName()} is unreachable: nothing more was done`);
      return EXIT.unavailable;
    }
    if (error instanceof ProvisionerError) {
      console.error(`error: ${error.message}`);
      return error.code === 'config_invalid' ? EXIT.config : EXIT.failure;
    }
    console.error(error instanceof Error ? `error: ${error.message}` : `error: ${String(error)}`);
    return EXIT.failure;
  }
}

const invokedDirectly = process.argv[1] !== undefined && /cli[\\/]index\.(ts|js)$/.test(process.argv[1]);
if (
  invokedDirectly ||
  process.argv[1]?.endsWith('doorflow-provisioner') ||
  process.argv[1]?.endsWith('doorflow-provisioner.js')
) {
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = EXIT.failure;
    },
  );
}
