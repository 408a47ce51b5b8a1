import type { Config } from '../core/config.ts';
import { ConfigError, DoorFlowError, errorCode } from '../core/errors.ts';
import type { DoorFlowClient } from './client.ts';
import { sanitizeText } from './http-errors.ts';

/** Result of the `config check` DoorFlow probe. */
export interface DoorFlowConnectivity {
  ok: boolean;
  /** One line for humans; never contains a token. */
  detail: string;
  credentialTypes?: { id: number; label: string }[];
  hidCredentialTypeId?: number;
  /** Where the HID type id came from. */
  hidSource?: 'configured' | 'discovered';
  /** On failure: the error's stable code (`unauthorized`, `server_error`, `econnrefused`, …). */
  code?: string;
}

/**
 * Lists credential types (proves base URL, token and scope `account.credential_type.readonly`),
 * reports the HID Mobile type id, and adds token info when DoorFlow offers it.
 */
export async function checkDoorFlowConnectivity(
  client: DoorFlowClient,
  config: Config['doorflow'],
  signal: AbortSignal = AbortSignal.timeout(config.timeoutMs + 5_000),
): Promise<DoorFlowConnectivity> {
  if (!config.accessToken && !config.refreshToken) {
    return {
      ok: false,
      detail: 'no DOORFLOW_ACCESS_TOKEN or DOORFLOW_REFRESH_TOKEN configured',
      code: 'config_invalid',
    };
  }
  try {
    const types = await client.listCredentialTypes({ signal });
    const hid = await client.resolveHidCredentialTypeId({ signal });
    const hidSource = config.hidCredentialTypeId !== undefined ? 'configured' : 'discovered';
    let token = '';
    try {
      const info = await client.tokenInfo({ signal });
      const scope = Array.isArray(info.scope) ? info.scope.join(' ') : String(info.scope ?? '?');
      token = `; token scopes: ${scope}${info.expires_in === undefined ? '' : `, expires in ${String(info.expires_in)} s`}`;
    } catch (err) {
      token = `; token info unavailable (${err instanceof DoorFlowError ? err.code : 'error'})`;
    }
    return {
      ok: true,
      detail: `${config.baseUrl}: ${types.length} credential types; HID Mobile type id ${hid} (${hidSource})${token}`,
      credentialTypes: types.map((t) => ({ id: t.id, label: t.label })),
      hidCredentialTypeId: hid,
      hidSource,
    };
  } catch (err) {
    const detail =
      err instanceof ConfigError
        ? (err.problems[0]?.expected ?? err.message)
        : err instanceof DoorFlowError
          ? `${err.code}: ${err.message}`
          : sanitizeText(err instanceof Error ? err.message : String(err));
    return { ok: false, detail: `${config.baseUrl}: ${detail}`, code: errorCode(err) };
  }
}
