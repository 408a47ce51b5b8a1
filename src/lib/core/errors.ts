/**
 * One error taxonomy. Every error carries a stable string `code`, says whether a retry can help,
 * and never carries a secret in its message. Request/response details live in non-enumerable
 * properties so a logger serialising the error dumps no headers or bodies.
 */

export interface ProvisionerErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  /** When the server told us how long to wait. */
  retryAfterMs?: number;
}

export class ProvisionerError extends Error {
  /** Stable, machine-readable error code (used in dead letters, reports and metrics). */
  readonly code: string;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(code: string, message: string, options: ProvisionerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export interface ConfigProblem {
  variable: string;
  expected: string;
}

/** Start-up configuration is invalid. Lists every bad variable at once. */
export class ConfigError extends ProvisionerError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    const lines = problems.map((p) => `  - ${p.variable}: ${p.expected}`).join('\n');
    super('config_invalid', `Invalid configuration:\n${lines}`);
    this.problems = problems;
  }
}

/** A payload (job data, webhook body, roster row) does not match its schema. Never retryable. */
export class PayloadError extends ProvisionerError {
  constructor(message: string, options: ProvisionerErrorOptions = {}) {
    super('invalid_payload', message, { ...options, retryable: false });
  }
}

/** Field errors as DoorFlow's 422 body gives them; `limit_reached` is a single string there. */
export type FieldErrors = Record<string, string[]>;

export interface DoorFlowErrorDetails extends ProvisionerErrorOptions {
  status?: number;
  upstreamCode?: string;
  fieldErrors?: FieldErrors;
  method?: string;
  /** Path template or path without query (never a query string: it may carry an ack_token). */
  route?: string;
  request?: unknown;
  response?: unknown;
}

/** An error talking to DoorFlow (HTTP status, network, time-out or protocol). */
export class DoorFlowError extends ProvisionerError {
  readonly status: number | undefined;
  readonly upstreamCode: string | undefined;
  readonly fieldErrors: FieldErrors;
  readonly method: string | undefined;
  readonly route: string | undefined;
  declare readonly request: unknown;
  declare readonly response: unknown;

  constructor(code: string, message: string, details: DoorFlowErrorDetails = {}) {
    super(code, message, details);
    this.status = details.status;
    this.upstreamCode = details.upstreamCode;
    this.fieldErrors = details.fieldErrors ?? {};
    this.method = details.method;
    this.route = details.route;
    Object.defineProperty(this, 'request', { value: details.request, enumerable: false });
    Object.defineProperty(this, 'response', { value: details.response, enumerable: false });
  }
}

/** HTTP statuses after which the same request may succeed later. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([
  408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 524,
]);

/** Network error codes after which the same request may succeed later. */
export const RETRYABLE_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ETIMEDOUT',
  'ECONNRESET',
  'EADDRINUSE',
  'ECONNREFUSED',
  'EPIPE',
  'ENOTFOUND',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'ERR_GOT_REQUEST_ERROR',
]);

/** Maps an HTTP status to our stable error code. */
export function codeForStatus(status: number, fieldErrors: FieldErrors = {}): string {
  if (status === 422 && fieldErrors.limit_reached) return 'licence_limit';
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 422:
      return 'validation_failed';
    case 429:
      return 'rate_limited';
    default:
      return status >= 500 ? 'server_error' : `http_${status}`;
  }
}

/** Whether an error (ours or anything else thrown) is worth retrying. Unknown errors are retried. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ProvisionerError) return error.retryable;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && RETRYABLE_NETWORK_CODES.has(code)) return true;
  return true;
}

/** The stable code of any thrown value. */
export function errorCode(error: unknown): string {
  if (error instanceof ProvisionerError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code.toLowerCase() : 'internal_error';
}
