/**
 * Telling a Redis outage from other errors, and naming the server without its password. Kept apart
 * from redis.ts so the CLI's top-level error handler can use it without loading ioredis.
 */

/** The URL with any password masked, for messages (`redis://:***@host:6379`). */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return 'the configured REDIS_URL';
  }
}

/** Where the configured Redis is, for messages: REDIS_URL without its password, or the cluster's nodes. */
export function describeRedis(config: {
  readonly redisUrl: string | undefined;
  readonly redisCluster: { readonly nodes: readonly { host: string; port: number }[] } | undefined;
}): string {
  if (config.redisCluster) {
    return `the Redis Cluster at ${config.redisCluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  }
  return config.redisUrl ? redactRedisUrl(config.redisUrl) : 'REDIS_URL';
}

/** True for the errors ioredis raises while the server is away (refused, reset, retries spent). */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code))
    return true;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    /max retries per request|Connection is closed|Stream isn't writeable|connect ECONNREFUSED|LOADING|CLUSTERDOWN|Failed to refresh slots cache|None of startup nodes is available/.test(
      err.message,
    )
  );
}
