import { ProvisionerError } from '../../lib/core/errors.ts';

/**
 * A SCIM error response (RFC 7644 §3.12): an HTTP status, an optional `scimType` from the RFC's
 * table (`uniqueness`, `invalidFilter`, `invalidSyntax`, `invalidPath`, `noTarget`,
 * `invalidValue`, `mutability`, `tooMany`) and a `detail` safe to show the IdP (never a secret or
 * a stored value).
 */

export type ScimType =
  | 'uniqueness'
  | 'invalidFilter'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'mutability'
  | 'tooMany';

const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

export class ScimError extends ProvisionerError {
  readonly status: number;
  readonly scimType: ScimType | undefined;

  constructor(status: number, detail: string, scimType?: ScimType, options: { retryAfterMs?: number } = {}) {
    super(scimType ? `scim_${scimType}` : `scim_${status}`, detail, {
      retryable: status === 503 || status === 429,
      ...options,
    });
    this.status = status;
    this.scimType = scimType;
  }

  /** The response body. */
  body(): Record<string, unknown> {
    return {
      schemas: [ERROR_SCHEMA],
      status: String(this.status),
      ...(this.scimType ? { scimType: this.scimType } : {}),
      detail: this.message,
    };
  }
}
