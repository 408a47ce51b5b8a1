import { ProvisionerError } from '../lib/core/errors.ts';

/** Exit codes every command uses; documented in the README. */
export const EXIT = {
  /** Everything asked for was done. */
  ok: 0,
  /** The command ran but some work failed (e.g. entries dead-lettered, a check failed). */
  failure: 1,
  /** Wrong flags or arguments. */
  usage: 2,
  /** Configuration invalid (names the variables). */
  config: 3,
  /** A required service (Redis, DoorFlow) is unreachable. */
  unavailable: 4,
  /** A safety check refused the operation (use --force to override). */
  refused: 5,
  /** Interrupted by a signal before finishing. */
  interrupted: 130,
} as const;

/**
 * A bad input found while a command runs (an unreadable roster, a bad mapping): one line on stderr
 * and exit code 2. Returns false for anything else, which the caller rethrows.
 */
export function reportUsageError(err: unknown): boolean {
  if (!(err instanceof ProvisionerError) || err.code !== 'invalid_payload') return false;
  console.error(`error: ${err.message}`);
  process.exitCode = EXIT.usage;
  return true;
}
