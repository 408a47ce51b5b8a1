import type { Logger } from '../lib/core/logger.ts';
import { EXIT } from './exit-codes.ts';

/**
 * First SIGTERM/SIGINT: run `graceful` (workers finish their active jobs, queues and Redis close).
 * A second signal forces exit at once.
 */
export function installShutdown(logger: Logger, graceful: () => Promise<void>): () => void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: forcing exit');
      process.exit(EXIT.interrupted);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down gracefully (send the signal again to force)');
    graceful().then(
      () => {
        process.exitCode ??= EXIT.ok;
      },
      (err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exitCode = EXIT.failure;
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}

/** A one-shot command's interruption: {@link abortOnSignal}. */
export interface SignalAbort {
  /** Aborted by the first SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
  /** Stops listening (call in `finally`). */
  dispose(): void;
}

/**
 * For a one-shot command (import, sync): the first SIGINT/SIGTERM aborts `signal`, so the command
 * stops what it is doing and still reports; a second one, no longer listened to, ends the process.
 */
export function abortOnSignal(): SignalAbort {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
