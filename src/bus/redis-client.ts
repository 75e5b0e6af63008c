import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from '../logger.js';
import { parseRedisUrl, type RedisEndpoint } from './redis-url.js';

export { parseRedisUrl, type RedisEndpoint };

/** A connection to a single Redis or to a Redis Cluster; both speak the same commands. */
export type RedisClient = Redis | Cluster;



/** Per-connection behaviour a caller may tune; everything else comes from the URL. */
export interface RedisConnectionTuning {
  /**
   * How long a sent command may wait for its reply before it fails. Bounds publishes and rate
   * limit lookups against a Redis that accepts connections but does not answer.
   * @default undefined (no limit)
   */
  commandTimeoutMs?: number;
  /**
   * Reconnection attempts a command survives before it fails. `1` keeps a command from hanging
   * through an outage (ioredis' own default, 20, makes an awaited command wait ~10 s).
   * @default 1
   */
  maxRetriesPerRequest?: number | null;
  /**
   * Send commands issued in the same tick as one pipeline (one round trip for the rate limiter's
   * counters of a request).
   * @default false
   */
  autoPipelining?: boolean;
}

/** Options of the factory: one per process, shared by the bus and the rate limiter. */
export interface RedisClientFactoryOptions {
  /** `redis://` or `rediss://` URL; with `cluster`, the seed node of the cluster. */
  redisUrl: string;
  /** Connect as Redis Cluster (the URL names one node; the others are discovered). @default false */
  cluster?: boolean;
  /**
   * Extra TLS options for every `rediss://` connection (a CA bundle, a client certificate).
   * Node's `NODE_EXTRA_CA_CERTS` covers a private CA without code.
   * @default {}
   */
  tls?: ConnectionOptions;
  /** Where refusals and outages are reported: each cause once, not once per retry. */
  logger?: Pick<Logger, 'error' | 'warn' | 'info'>;
}

/** Makes every Redis connection of the gateway from one URL, with the same credentials and TLS. */
export interface RedisClientFactory {
  /**
   * Opens a connection named `hotconf-<name>` (visible in `CLIENT LIST`). The caller owns it
   * and closes it (`quit()` / `disconnect()`).
   */
  create(name: string, tuning?: RedisConnectionTuning): RedisClient;
  /**
   * Reports a command Redis refused (a PUBLISH or SUBSCRIBE outside the user's ACL, a login that
   * expired): logged like connection trouble, once per cause. Transient failures (timeouts, a
   * closed connection) are left to the connection's own report and ignored here.
   */
  reportCommandError(error: unknown): void;
}

/** The kinds of trouble an operator acts on differently. */
export type RedisTroubleKind = 'auth' | 'permission' | 'tls' | 'cluster' | 'unreachable' | 'other';

/**
 * Sorts a connection error by what the operator must do about it. A Redis Cluster reports a
 * refused login only as "Failed to refresh slots cache"; the node's own error (NOAUTH,
 * WRONGPASS) travels in `lastNodeError` and is what gets classified.
 */
export function classifyRedisError(error: unknown): { kind: RedisTroubleKind; cause: string; code: string | null } {
  const inner = (error as { lastNodeError?: unknown } | null)?.lastNodeError ?? error;
  const message = inner instanceof Error ? inner.message : String(inner);
  const code = (inner as { code?: unknown } | null)?.code;
  const codeText = typeof code === 'string' ? code : null;
  if (/^(NOAUTH|WRONGPASS)\b|invalid password|invalid username-password/i.test(message)) {
    return { kind: 'auth', cause: message, code: message.split(' ', 1)[0] ?? null };
  }
  if (/^NOPERM\b/.test(message)) return { kind: 'permission', cause: message, code: 'NOPERM' };
  // A cluster node answering a standalone client (MOVED, ASK, CROSSSLOT), or a standalone Redis
  // asked for its cluster slots: HOTCONF_REDIS_CLUSTER does not match what REDIS_URL names.
  if (/^(MOVED|ASK|CROSSSLOT)\b|cluster support disabled/i.test(message)) {
    return { kind: 'cluster', cause: message, code: /cluster support disabled/i.test(message) ? 'NOT_A_CLUSTER' : 'A_CLUSTER' };
  }
  if ((codeText && /^(ERR_SSL|ERR_TLS|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_(GET|VERIFY))/.test(codeText)) || /certificate|SSL routines|TLS/i.test(message)) {
    return { kind: 'tls', cause: message, code: codeText };
  }
  if (
    (codeText && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE)$/.test(codeText)) ||
    /Connection is closed|connect ETIMEDOUT|Cluster is disconnected|None of startup nodes is available/i.test(message)
  ) {
    return { kind: 'unreachable', cause: message, code: codeText };
  }
  return { kind: 'other', cause: message, code: codeText };
}

const ADVICE: Record<RedisTroubleKind, string> = {
  auth: 'redis refused the credentials: check the user and password in REDIS_URL',
  permission:
    'redis refused a command to the REDIS_URL user (ACL): grant it the commands and the keys and channels under HOTCONF_CHANNEL_PREFIX listed in docs/REDIS.md',
  tls: 'redis TLS handshake failed: check rediss://, the server certificate and its CA (NODE_EXTRA_CA_CERTS)',
  cluster:
    'HOTCONF_REDIS_CLUSTER does not match the Redis that REDIS_URL names: a Redis Cluster node needs HOTCONF_REDIS_CLUSTER=1, a standalone Redis needs it unset (until then rate limits are counted per gateway)',
  unreachable: 'redis is unreachable; changes reach subscribers through the periodic check until it is back',
  other: 'redis connection error',
};

/**
 * The one place Redis connections are made: the bus's publisher and subscriber and the rate
 * limiter all come from here, so user, password, database and TLS from `REDIS_URL` apply to each
 * of them, standalone or Cluster (where ioredis takes them per node in `redisOptions`).
 *
 * Connection trouble is logged by cause: a refused login (NOAUTH / WRONGPASS) is one `error`
 * line with Redis' own words, an outage one `warn` line, however many connections and retries
 * see it; one `info` line when every connection is ready again.
 *
 * @example
 * const redis = createRedisClientFactory({ redisUrl: 'rediss://hotconf:pw@redis:6380', cluster: true, logger });
 * const publisher = redis.create('pub', { commandTimeoutMs: 1_000 });
 */
export function createRedisClientFactory({ redisUrl, cluster = false, tls: tlsOptions = {}, logger }: RedisClientFactoryOptions): RedisClientFactory {
  const endpoint = parseRedisUrl(redisUrl);
  if (cluster && endpoint.db !== 0) throw new Error('REDIS_URL: Redis Cluster has only database 0');
  const where = `${endpoint.host}:${endpoint.port}`;

  // Causes already reported since the last time every connection was ready.
  const reported = new Set<string>();
  const clients = new Set<RedisClient>();
  const report = (error: unknown, node: string | null) => {
    const { kind, cause, code } = classifyRedisError(error);
    // One line per cause, not per node or connection: three nodes refusing the same password,
    // or three connections seeing the same outage, are one thing to fix.
    const key = kind === 'other' ? `other:${cause}` : `${kind}:${code ?? ''}`;
    if (reported.has(key)) return;
    reported.add(key);
    const fields = { kind, cause, redis: node ?? where, tls: endpoint.tls, cluster, user: endpoint.username ?? 'default' };
    if (kind === 'unreachable' || kind === 'other') logger?.warn(fields, ADVICE[kind]);
    else logger?.error(fields, ADVICE[kind]);
  };
  const onReady = () => {
    if (reported.size === 0) return;
    for (const client of clients) if (client.status !== 'ready') return;
    reported.clear();
    logger?.info({ redis: where, cluster }, 'redis connections ready');
  };

  const create = (name: string, { commandTimeoutMs, maxRetriesPerRequest = 1, autoPipelining = false }: RedisConnectionTuning = {}): RedisClient => {
    const options: RedisOptions = {
      connectionName: `hotconf-${name}`,
      username: endpoint.username,
      password: endpoint.password,
      maxRetriesPerRequest,
      // Reconnect quickly, capped at 1 s: a restarted Redis is used again within a second.
      retryStrategy: (times) => Math.min(50 * times, 1_000),
      ...(commandTimeoutMs === undefined ? {} : { commandTimeout: commandTimeoutMs }),
      ...(endpoint.family ? { family: endpoint.family } : {}),
      ...(endpoint.tls ? { tls: { ...tlsOptions } } : {}),
    };
    let client: RedisClient;
    if (cluster) {
      const clusterOptions: ClusterOptions = {
        // ioredis gives every node connection these options; the URL's user, password and TLS
        // reach no node otherwise, and a refused login then shows only as a slots-cache failure.
        redisOptions: options,
        enableAutoPipelining: autoPipelining,
        clusterRetryStrategy: (times) => Math.min(50 * times, 1_000),
        ...(endpoint.tls
          ? {
              // Keep the names the cluster announces instead of resolving them to addresses, so
              // certificates issued for host names verify (managed clusters announce names).
              dnsLookup: (address: string, callback: (error: Error | null, address: string) => void) => callback(null, address),
            }
          : {}),
      };
      client = new Cluster([{ host: endpoint.host, port: endpoint.port }], clusterOptions);
      // Per-node failures (one master down, a node refusing the login) arrive here, not as 'error'.
      client.on('node error', (error: unknown, node: unknown) => report(error, typeof node === 'string' ? node : null));
    } else {
      client = new Redis({ ...options, host: endpoint.host, port: endpoint.port, db: endpoint.db, enableAutoPipelining: autoPipelining });
    }
    clients.add(client);
    client.on('error', (error: unknown) => report(error, null));
    client.on('ready', onReady);
    client.once('end', () => clients.delete(client));
    return client;
  };

  return {
    create,
    reportCommandError(error) {
      const { kind } = classifyRedisError(error);
      if (kind === 'auth' || kind === 'permission' || kind === 'tls' || kind === 'cluster') report(error, null);
    },
  };
}
