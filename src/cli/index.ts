import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ProvisionerError } from '../lib/errors.ts';
import { EXIT } from './exit-codes.ts';
import { registerConfigCommand } from './config-check.ts';
import { registerSimulateCommand } from './simulate.ts';
import { registerDemoCommand } from './demo.ts';
import { registerDlqCommand } from './dlq.ts';
import { registerImportCommand } from './import.ts';
import { registerRunsCommand } from './runs.ts';
import { registerWorkerCommand } from './worker.ts';
import { registerAuditCommand } from './audit.ts';
import { registerSyncCommand } from './sync.ts';
import { registerServeCommand } from './serve.ts';
import { registerStatusCommand } from './status.ts';
import { registerRevokeCommand } from './revoke.ts';
import { registerReissueCommand } from './reissue.ts';

/** Each command lives in its own module and registers itself here. */
const registrations: ((program: Command) => void)[] = [
  registerConfigCommand,
  registerSimulateCommand,
  registerWorkerCommand,
  registerImportCommand,
  registerRunsCommand,
  registerDlqCommand,
  registerDemoCommand,
  registerAuditCommand,
  registerSyncCommand,
  registerServeCommand,
  registerStatusCommand,
  registerRevokeCommand,
  registerReissueCommand,
];

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command()
    .name('doorflow-provisioner')
    .description('Bulk provisioning of HID Mobile Access passes through DoorFlow, driven by Redis queues.')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  for (const register of registrations) register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.ok;
      if (error.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
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
