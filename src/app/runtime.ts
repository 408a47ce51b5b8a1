import { type AccountSelection, type Config, type Env, loadConfig, processEnv } from '../lib/core/config.ts';
import { secretValues } from '../lib/core/config-describe.ts';
import { createLogger, type Logger } from '../lib/core/logger.ts';

/**
 * The light half of the composition root (config and logger, no Redis or HTTP), so a command
 * that needs no connection — `import --dry-run`, `--help` — does not load those stacks. CLI
 * commands call these to build what they need; nothing else builds singletons. Every opened
 * resource registers a closer, and {@link Runtime.close} runs them in reverse order.
 */
export interface Runtime {
  readonly config: Config;
  readonly logger: Logger;
  /** Register a resource to close on shutdown (closed last-in, first-out). */
  onClose(closer: () => Promise<void> | void): void;
  close(): Promise<void>;
}

/** `--account NAME` as the CLI read it for this process (undefined: not given). */
let accountFlag: string | undefined;

/** The CLI's `--account` (once, before the command runs); every later {@link buildConfig} selects it. */
export function chooseAccount(name: string | undefined): void {
  accountFlag = name;
}

/**
 * The accounts a command serves or checks (`worker`, `serve`, `config check`): the one named with
 * `--account`, else every account of the configuration.
 */
export function servedAccounts(config: Config): string[] {
  return accountFlag === undefined ? config.accounts.map((a) => a.name) : [config.account];
}

/**
 * The configuration from the environment, with the account `--account` chose (else the only
 * one, or `default`). `all`: several accounts and none chosen is fine (worker, serve).
 */
export function buildConfig(overrides: Env = {}, options: Pick<AccountSelection, 'all'> = {}): Config {
  return loadConfig(processEnv(), overrides, { account: accountFlag, ...options });
}

export function buildRuntime(
  config: Config,
  options: { logDestination?: NodeJS.WritableStream } = {},
): Runtime {
  const logger = createLogger({
    level: config.logLevel,
    secrets: secretValues(config),
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  const closers: (() => Promise<void> | void)[] = [];
  let closed = false;
  return {
    config,
    logger,
    onClose(closer) {
      closers.push(closer);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const closer of closers.reverse()) {
        try {
          await closer();
        } catch (err) {
          logger.warn({ err }, 'error while closing a resource');
        }
      }
    },
  };
}
