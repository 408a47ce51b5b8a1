import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Paths pino blanks out wherever they appear (one level of wildcard per pino's rules). */
export const REDACT_PATHS = [
  'authorization',
  'Authorization',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'access_token',
  'refresh_token',
  'client_secret',
  'invitation_code',
  'invitationCode',
  '*.access_token',
  '*.refresh_token',
  '*.client_secret',
  '*.invitation_code',
  '*.invitationCode',
  '*.encryptedCode',
  'token',
  '*.token',
  '*.password',
  '*.apiKey',
];

/** HID invitation codes look like `XXXX-XXXX-XXXX-XXXX`. */
export const INVITATION_CODE_PATTERN = /\b[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}\b/g;

const REDACTED = '[REDACTED]';

/**
 * Removes every known secret value and anything shaped like an invitation code from a string.
 * Applied to each serialised log line as the last line of defence behind the redact paths.
 */
export function scrubSecrets(text: string, secrets: Iterable<string>): string {
  let out = text.replace(INVITATION_CODE_PATTERN, REDACTED);
  for (const secret of secrets) {
    if (secret.length >= 4 && out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

export interface LoggerSettings {
  level: string;
  /** Secret values known at start-up (tokens, keys). More can be added with {@link SecretRegistry.add}. */
  secrets?: Iterable<string>;
  /**
   * Where to write; defaults to stderr (fd 2, pretty when stderr is a TTY), so stdout carries only
   * a command's own output and every `--json` output parses.
   */
  destination?: NodeJS.WritableStream;
  name?: string;
}

/** Secrets that appear at run time (refreshed tokens) are registered here so logs scrub them too. */
class SecretRegistry {
  readonly #values = new Set<string>();
  add(value: string | undefined | null): void {
    if (value && value.length >= 4) this.#values.add(value);
  }
  values(): Iterable<string> {
    return this.#values;
  }
}

export const secretRegistry = new SecretRegistry();

/** Builds the one root logger. Child loggers per job come from `logger.child({...})`. */
export function createLogger(settings: LoggerSettings): Logger {
  for (const s of settings.secrets ?? []) secretRegistry.add(s);
  const options: LoggerOptions = {
    level: settings.level,
    name: settings.name ?? 'doorflow-provisioner',
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    serializers: { err: pino.stdSerializers.err },
    hooks: {
      streamWrite: (line: string) => scrubSecrets(line, secretRegistry.values()),
    },
  };
  if (settings.destination) return pino(options, settings.destination);
  if (process.stderr.isTTY) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { colorize: true, destination: 2 } },
    });
  }
  return pino(options, pino.destination(2));
}

/** A logger that writes nothing, for tests and library callers that do not care. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
