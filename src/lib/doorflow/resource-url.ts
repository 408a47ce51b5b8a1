import { DoorFlowError } from '../core/errors.ts';

/**
 * Webhook notices carry a full resource URL (with its `ack_token`). We GET it with our bearer
 * token, so it must point at the configured DoorFlow origin and base path: anything else would
 * hand the token to whoever forged or redirected the notice.
 */
export interface ResourceTarget {
  /** Relative to the base URL, without leading slash (what got's `prefixUrl` expects). */
  path: string;
  searchParams: URLSearchParams;
}

export function resolveResourceUrl(baseUrl: string, url: string): ResourceTarget {
  const base = new URL(`${baseUrl.replace(/\/+$/, '')}/`);
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new DoorFlowError('foreign_resource_url', 'Refusing a malformed DoorFlow resource URL', {
      retryable: false,
    });
  }
  if (target.origin !== base.origin || !target.pathname.startsWith(base.pathname)) {
    // The origin is named (it is no secret); the path and query are not (the query holds the ack token).
    throw new DoorFlowError(
      'foreign_resource_url',
      `Refusing to send the DoorFlow token outside ${base.origin}${base.pathname} (resource on ${target.origin})`,
      { retryable: false },
    );
  }
  return { path: target.pathname.slice(base.pathname.length), searchParams: target.searchParams };
}
