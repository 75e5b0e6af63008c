/**
 * `REDIS_URL` parsing, with no driver import: `src/config.ts` validates the URL at start with it,
 * and the Redis client factory connects with what it returns.
 */

/** What a `REDIS_URL` says about where Redis is and how to log in. */
export interface RedisEndpoint {
  host: string;
  port: number;
  /** ACL user (Redis 6+); absent = the `default` user. */
  username?: string;
  password?: string;
  /** Database index (standalone only: Redis Cluster has database 0 alone). */
  db: number;
  /** `rediss://`: every connection uses TLS. */
  tls: boolean;
  /** IP family for host name lookups (`?family=6`); absent = either. */
  family?: 4 | 6;
}

/**
 * Reads `redis://[user[:password]@]host[:port][/db][?family=4|6]` (or `rediss://` for TLS) into
 * its parts. User and password are percent-decoded, so a password with `@`, `:` or `/` is written
 * percent-encoded in the URL. Throws on anything else (other query parameters included), naming
 * the part without echoing secrets.
 *
 * @example parseRedisUrl('rediss://hotconf:s3cret@redis.internal:6380/0')
 */
export function parseRedisUrl(redisUrl: string): RedisEndpoint {
  let url: URL;
  try {
    url = new URL(redisUrl);
  } catch {
    throw new Error('REDIS_URL is not a URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new Error(`REDIS_URL must use redis: or rediss:, got ${url.protocol}`);
  }
  // URL keeps the brackets of an IPv6 literal; sockets want the bare address.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = url.port ? Number(url.port) : 6379;
  const path = url.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : Number(path);
  if (!Number.isSafeInteger(db) || db < 0) throw new Error('REDIS_URL: the path must be a database number (/0)');
  const endpoint: RedisEndpoint = { host, port, db, tls: url.protocol === 'rediss:' };
  if (url.username) endpoint.username = decodeURIComponent(url.username);
  if (url.password) endpoint.password = decodeURIComponent(url.password);
  for (const name of url.searchParams.keys()) {
    // Silently ignoring `?tls=…` or `?password=…` would connect in a way nobody asked for.
    if (name !== 'family') throw new Error(`REDIS_URL: unsupported parameter ${JSON.stringify(name)} (supported: family)`);
  }
  const family = url.searchParams.get('family');
  if (family === '4' || family === '6') endpoint.family = Number(family) as 4 | 6;
  else if (family !== null) throw new Error('REDIS_URL: family must be 4 or 6');
  return endpoint;
}
