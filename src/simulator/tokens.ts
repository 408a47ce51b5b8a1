import { createHash, randomBytes } from 'node:crypto';
import type { ResolvedSimulatorOptions } from './options.ts';

/**
 * OAuth state: authorization codes (one use, 10 min), access tokens (expire), refresh tokens
 * (rotate: each use kills the old one), plus the static bearer tokens from the options.
 */

export interface AccessGrant {
  clientId: string | undefined;
  scopes: string[];
  createdAtMs: number;
  /** undefined = never expires (static tokens). */
  expiresAtMs: number | undefined;
  refreshToken: string | undefined;
  /** The grant (authorization) this token came from; rotation keeps it. */
  grantId?: string | undefined;
}

interface RefreshGrant {
  clientId: string;
  scopes: string[];
  grantId: string;
}

interface CodeGrant {
  clientId: string;
  redirectUri: string | undefined;
  scopes: string[];
  expiresAtMs: number;
  codeChallenge: string | undefined;
}

export type AuthResult =
  | { ok: true; grant: AccessGrant }
  | { ok: false; reason: 'missing' | 'invalid' | 'expired' };

const CODE_LIFETIME_MS = 10 * 60_000;

function token(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

export class TokenStore {
  readonly #access = new Map<string, AccessGrant>();
  readonly #refresh = new Map<string, RefreshGrant>();
  readonly #codes = new Map<string, CodeGrant>();
  /** Refresh tokens already used or revoked: reuse → invalid_grant (kept to tell reuse apart in tests). */
  readonly #spent = new Set<string>();
  refreshReuseCount = 0;

  constructor(
    private readonly options: () => ResolvedSimulatorOptions,
    private readonly now: () => number,
  ) {}

  reset(): void {
    this.#access.clear();
    this.#refresh.clear();
    this.#codes.clear();
    this.#spent.clear();
    this.refreshReuseCount = 0;
  }

  /** Checks an `Authorization: Bearer …` header against OAuth and static tokens. */
  authenticate(header: string | undefined): AuthResult {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match?.[1]) return { ok: false, reason: 'missing' };
    return this.lookup(match[1]);
  }

  lookup(accessToken: string): AuthResult {
    const fixed = this.options().accessTokens.find((t) => t.token === accessToken);
    if (fixed) {
      return {
        ok: true,
        grant: {
          clientId: undefined,
          scopes: fixed.scopes,
          createdAtMs: 0,
          expiresAtMs: undefined,
          refreshToken: undefined,
        },
      };
    }
    const grant = this.#access.get(accessToken);
    if (!grant) return { ok: false, reason: 'invalid' };
    if (grant.expiresAtMs !== undefined && this.now() >= grant.expiresAtMs)
      return { ok: false, reason: 'expired' };
    return { ok: true, grant };
  }

  client(clientId: string | undefined): ResolvedSimulatorOptions['oauthClients'][number] | undefined {
    return this.options().oauthClients.find((c) => c.clientId === clientId);
  }

  issueCode(input: {
    clientId: string;
    redirectUri?: string | undefined;
    scopes: string[];
    codeChallenge?: string | undefined;
  }): string {
    const code = token(16);
    this.#codes.set(code, {
      clientId: input.clientId,
      redirectUri: input.redirectUri,
      scopes: input.scopes,
      expiresAtMs: this.now() + CODE_LIFETIME_MS,
      codeChallenge: input.codeChallenge,
    });
    return code;
  }

  /** One use only. Returns undefined (→ invalid_grant) for unknown, used, expired or foreign codes. */
  redeemCode(
    code: string,
    clientId: string,
    redirectUri: string | undefined,
    codeVerifier: string | undefined,
  ): CodeGrant | undefined {
    const grant = this.#codes.get(code);
    this.#codes.delete(code);
    if (!grant || grant.clientId !== clientId || this.now() >= grant.expiresAtMs) return undefined;
    if (grant.redirectUri !== undefined && redirectUri !== grant.redirectUri) return undefined;
    if (grant.codeChallenge !== undefined) {
      const computed = createHash('sha256')
        .update(codeVerifier ?? '')
        .digest('base64url');
      if (computed !== grant.codeChallenge) return undefined;
    }
    return grant;
  }

  /** Mints an access + refresh pair: of a new grant, or of `grantId` when a refresh rotates it. */
  issuePair(
    clientId: string,
    scopes: string[],
    grantId: string = token(8),
  ): { accessToken: string; refreshToken: string; grant: AccessGrant } {
    const accessToken = token();
    const refreshToken = token();
    const createdAtMs = this.now();
    const grant: AccessGrant = {
      clientId,
      scopes,
      createdAtMs,
      expiresAtMs: createdAtMs + this.options().tokenLifetimeSec * 1000,
      refreshToken,
      grantId,
    };
    this.#access.set(accessToken, grant);
    this.#refresh.set(refreshToken, { clientId, scopes, grantId });
    return { accessToken, refreshToken, grant };
  }

  /** Rotation: the old refresh token dies on use; reusing it gives undefined (→ invalid_grant). */
  useRefreshToken(refreshToken: string, clientId: string): RefreshGrant | undefined {
    const grant = this.#refresh.get(refreshToken);
    if (!grant) {
      if (this.#spent.has(refreshToken)) this.refreshReuseCount++;
      return undefined;
    }
    if (grant.clientId !== clientId) return undefined;
    this.#refresh.delete(refreshToken);
    this.#spent.add(refreshToken);
    return grant;
  }

  /**
   * /oauth/revoke: revokes the grant an access or refresh token belongs to, as DoorFlow does: its
   * refresh token and every access token issued from it die (unknown tokens are fine).
   */
  revoke(value: string): void {
    const grantId = this.#refresh.get(value)?.grantId ?? this.#access.get(value)?.grantId;
    if (this.#refresh.delete(value)) this.#spent.add(value);
    this.#access.delete(value);
    if (grantId !== undefined) this.#revokeWhere((g) => g === grantId);
  }

  /** Test hook: every grant is revoked (refresh tokens and the access tokens issued from them). */
  revokeAll(): number {
    return this.#revokeWhere(() => true);
  }

  #revokeWhere(match: (grantId: string) => boolean): number {
    const revoked = new Set<string>();
    for (const [value, grant] of this.#refresh) {
      if (!match(grant.grantId)) continue;
      this.#refresh.delete(value);
      this.#spent.add(value);
      revoked.add(grant.grantId);
    }
    for (const [value, grant] of this.#access) {
      if (grant.grantId === undefined || !match(grant.grantId)) continue;
      this.#access.delete(value);
      revoked.add(grant.grantId);
    }
    return revoked.size;
  }

  /** Test hook: every OAuth access token expires now (static tokens are unaffected). */
  expireAccessTokens(): number {
    const now = this.now();
    for (const grant of this.#access.values()) grant.expiresAtMs = now;
    return this.#access.size;
  }
}
