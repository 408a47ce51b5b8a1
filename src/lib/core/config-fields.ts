import { z } from 'zod';
import { DELIVERY_CHANNELS, parseChannelList } from '../delivery/channel-names.ts';

/** Field parsers for the environment schema in `config.ts`: each names what it expects in its error. */

export const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

export const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
/** Shortest shared secret we accept: a guessable one would let anyone sign webhooks or sign in. */
const MIN_SECRET_LENGTH = 32;

/** An optional shared secret of at least {@link MIN_SECRET_LENGTH} characters. */
export const optionalSecret = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .min(MIN_SECRET_LENGTH, {
      error: `expected at least ${MIN_SECRET_LENGTH} characters (e.g. \`openssl rand -hex 32\`)`,
    })
    .optional(),
);

/** A comma-separated list of host names (empty: none), lower-cased. */
export const hostList = z.preprocess(
  (v) => emptyToUndefined(v) ?? '',
  z.string().transform((text) =>
    text
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== ''),
  ),
);

/** One `host:port` of `REDIS_CLUSTER_NODES`. */
const CLUSTER_NODE = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/**
 * `REDIS_CLUSTER_NODES`: comma-separated `host:port` seed nodes of a Redis Cluster (ioredis finds
 * the rest itself); undefined when unset.
 */
export const clusterNodes = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .transform((text, ctx) => {
      const nodes: { host: string; port: number }[] = [];
      for (const raw of text.split(',').map((n) => n.trim())) {
        const match = CLUSTER_NODE.exec(raw);
        const port = Number(match?.[2]);
        if (!match?.[1] || !(port >= 1 && port <= 65_535)) {
          ctx.addIssue({
            code: 'custom',
            message: `expected comma-separated host:port entries (e.g. 10.0.0.1:7000,10.0.0.2:7000); "${raw}" is not one`,
          });
          return z.NEVER;
        }
        nodes.push({ host: match[1].replace(/^\[|\]$/g, ''), port });
      }
      return nodes;
    })
    .optional(),
);

export const optionalUrl = z.preprocess(
  emptyToUndefined,
  z.url({ error: 'expected an absolute URL' }).optional(),
);

function wholeNumber(min: number, max: number) {
  const error = `expected a whole number from ${min} to ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** A whole number within bounds, with a default. */
export function intInRange(min: number, max: number, def: number) {
  return z.preprocess(emptyToUndefined, wholeNumber(min, max).default(def));
}

/** An optional whole number within bounds. */
export function optionalInt(min: number, max: number) {
  return z.preprocess(emptyToUndefined, wholeNumber(min, max).optional());
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `30s`, `10m`, `3d`, or a bare number of milliseconds. Returns undefined when invalid. */
export function parseDurationMs(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!match) return undefined;
  const unit = (match[2] ?? 'ms').toLowerCase();
  const factor = DURATION_UNITS_MS[unit];
  if (factor === undefined) return undefined;
  return Math.round(Number(match[1]) * factor);
}

export function duration(def: string) {
  return z.preprocess(
    (v) => emptyToUndefined(v) ?? def,
    z.string().transform((text, ctx) => {
      const ms = parseDurationMs(text);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: 'expected a duration such as 30s, 10m, 3d or a number of ms',
        });
        return z.NEVER;
      }
      return ms;
    }),
  );
}

/** AES-256 key: 32 bytes given as 64 hex characters or base64. */
export const encryptionKey = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .transform((text, ctx) => {
      const trimmed = text.trim();
      const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
        ? Buffer.from(trimmed, 'hex')
        : /^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)
          ? Buffer.from(trimmed, 'base64')
          : undefined;
      if (key?.length !== 32) {
        ctx.addIssue({ code: 'custom', message: 'expected 32 bytes as 64 hex characters or base64' });
        return z.NEVER;
      }
      return key;
    })
    .optional(),
);

export const logLevel = z.preprocess(
  emptyToUndefined,
  z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'expected one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
);

export const expiryPolicy = z.preprocess(
  emptyToUndefined,
  z.enum(['reissue', 'revoke', 'alert'], { error: 'expected reissue, revoke or alert' }).default('reissue'),
);

export const adminAuth = z.preprocess(
  emptyToUndefined,
  z.enum(['token', 'basic'], { error: 'expected token or basic' }).default('token'),
);

/** A comma-separated list of delivery channels, e.g. `email,sms,doorflow` (empty: none). */
export const channelList = z.preprocess(
  (v) => emptyToUndefined(v) ?? '',
  z.string().transform((text, ctx) => {
    const channels = parseChannelList(text);
    if (!channels) {
      ctx.addIssue({
        code: 'custom',
        message: `expected channels from ${DELIVERY_CHANNELS.join(', ')}, comma-separated`,
      });
      return z.NEVER;
    }
    return channels;
  }),
);
