import { createHash } from 'node:crypto';
import { luaScript } from '../core/lua.ts';

/**
 * How configured DoorFlow tokens enter the shared token hash (auth.ts): a process seeds its
 * environment's tokens only when they are new to the fleet, so an old environment cannot bring back
 * a refresh token that was rotated, replaced or refused.
 */

/** Lua: `known` (space-separated refresh-token fingerprints) with `fp` appended, the last 16 kept. */
const REMEMBER = `
local function remember(known, fp)
  if fp == '' then return known end
  local list = {}
  for f in string.gmatch(known or '', '%S+') do if f ~= fp then table.insert(list, f) end end
  table.insert(list, fp)
  while #list > 16 do table.remove(list, 1) end
  return table.concat(list, ' ')
end
`;

/**
 * New configured tokens replace the stored ones and lift the pause, unless the configured refresh
 * token (ARGV[4], its fingerprint) was seen before: seeded by an earlier environment or stored by
 * `auth set-token`. The stored state descends from it (DoorFlow rotates refresh tokens; an operator
 * may have replaced it since, or DoorFlow refused it), so nothing changes (returns 2): an old
 * environment neither lifts a pause with a dead grant nor overwrites a newer token.
 */
export const seedScript = luaScript(`${REMEMBER}
local known = redis.call('HGET', KEYS[1], 'known') or ''
local seen = ARGV[4] ~= '' and string.find(' ' .. known .. ' ', ' ' .. ARGV[4] .. ' ', 1, true) ~= nil
if redis.call('HGET', KEYS[1], 'seed') == ARGV[1] then
  -- (Seeded before fingerprints were kept: note it now.)
  if ARGV[4] ~= '' and not seen then redis.call('HSET', KEYS[1], 'known', remember(known, ARGV[4])) end
  return 0
end
if seen then return 2 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'seed', ARGV[1], 'access', ARGV[2], 'refresh', ARGV[3], 'known', remember(known, ARGV[4]))
return 1
`);

/** Notes a refresh token stored by `auth set-token` as seen (see seedScript). */
export const rememberScript = luaScript(`${REMEMBER}
redis.call('HSET', KEYS[1], 'known', remember(redis.call('HGET', KEYS[1], 'known'), ARGV[1]))
`);

/** A short, non-reversible name for a token (never the token itself). */
export const fingerprint = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 16);
