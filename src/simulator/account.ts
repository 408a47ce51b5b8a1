import { type Route, route, type SimContext } from './context.ts';
import { json, type SimRequest, type SimResponse } from './http-util.ts';

/**
 * Account-level routes: `GET /api/3/account` and `POST /api/3/sync`. Sync is the one call the
 * contract documents a 429 for: `{error:"rate_limited", description, retry_in}` (no header).
 */

/** `POST /api/3/sync` is accepted at most once per this many seconds (assumed; DoorFlow gives no number). */
const SYNC_MIN_INTERVAL_SEC = 60;

function sync(_req: SimRequest, ctx: SimContext): SimResponse {
  const now = ctx.now();
  const lastSyncMs = ctx.state.lastSyncMs;
  if (lastSyncMs !== undefined && now - lastSyncMs < SYNC_MIN_INTERVAL_SEC * 1000) {
    const retryIn = Math.ceil((lastSyncMs + SYNC_MIN_INTERVAL_SEC * 1000 - now) / 1000);
    return json(429, {
      error: 'rate_limited',
      description: `A sync was started recently; retry in ${retryIn} seconds`,
      retry_in: retryIn,
    });
  }
  ctx.state.lastSyncMs = now;
  return json(202, { result: 'ok' });
}

export function accountRoutes(): Route[] {
  return [
    route('GET', '/api/3/account', (_req, ctx) =>
      json(200, {
        id: ctx.options().accountId,
        name: 'DoorFlow Simulator',
        passport: { hid_mobile_access: true },
      }),
    ),
    route('POST', '/api/3/sync', sync, { scopes: ['account.sync', 'account.person'] }),
  ];
}
