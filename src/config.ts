import { parseRedisUrl } from './bus/redis-url.js';
import { parseSecretKeys } from './core/secret-box.js';

/**
 * The only module that reads `process.env`. It parses and validates the environment once and
 * returns a frozen `Config`; modules receive the slice they need.
 */

export interface Config {
  /** @default 4000 */
  port: number;
  /** @default '127.0.0.1' unless an auth key is configured, then '0.0.0.0' */
  host: string;
  /** Postgres URL; null = embedded PGlite in `dataDir`. */
  databaseUrl: string | null;
  /** @default './.hotconf' */
  dataDir: string;
  /** Largest number of Postgres connections of this gateway (`DATABASE_POOL_MAX`). @default 10 */
  databasePoolMax: number;
  /**
   * Named prepared statements (`HOTCONF_DB_PREPARE`); off behind a transaction-mode pooler.
   * @default true, unless DATABASE_URL carries `?prepare=false`
   */
  databasePrepare: boolean;
  /**
   * `HOTCONF_DB_TIMEOUT_MS`: longest a request waits for a free database connection; a statement
   * or transaction running longer makes the gateway check that Postgres still answers (within
   * 2 s more), and only one whose database does not answer is cut off. Either way the request is
   * answered `SERVICE_UNAVAILABLE`; slow work on a live database (a large import) runs to its end.
   * @default 5000 (5 s)
   */
  databaseTimeoutMs: number;
  /** Apply pending migrations at start (`HOTCONF_MIGRATE`); off = run `hotconf migrate`. @default true */
  migrate: boolean;
  /**
   * Postgres URL used for migrations only (`HOTCONF_MIGRATION_DATABASE_URL`), e.g. a direct
   * connection when DATABASE_URL points at a pooler. @default null (DATABASE_URL)
   */
  migrationDatabaseUrl: string | null;
  /**
   * Redis URL, `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS; user, password
   * and TLS apply to every connection (bus, rate limiter), in cluster mode too. null = in-process bus.
   */
  redisUrl: string | null;
  /** `redisUrl` names a seed node of a Redis Cluster (`HOTCONF_REDIS_CLUSTER`). @default false */
  redisCluster: boolean;
  /** Prefix of every Redis channel and key. @default 'hotconf:' */
  channelPrefix: string;
  jwtSecret: string | null;
  jwksUrl: string | null;
  /** @default 2000 (2 s) */
  repairIntervalMs: number;
  /** @default 30 */
  historyRetentionDays: number;
  /** @default 1_048_576 (1 MiB) */
  maxValueBytes: number;
  /** @default 65_536 (64 KiB) */
  inlineValueBytes: number;
  /** Mutations per subject per minute; 0 = off. @default 600 */
  rateLimitPerMin: number;
  /** Operations in one setConfigs batch (an import is one batch). @default 10_000 */
  maxBatchSize: number;
  /** Request body limit, and WebSocket message limit. @default 4 MiB (a 1 MiB value JSON-escaped, plus headroom) */
  maxBodyBytes: number;
  /** Subscriptions one graphql-ws connection may hold at once (`HOTCONF_MAX_SUBSCRIPTIONS_PER_CONNECTION`). @default 100 */
  maxSubscriptionsPerConnection: number;
  /** Subscriptions one subject may hold on one gateway, graphql-ws and SSE together (`HOTCONF_MAX_SUBSCRIPTIONS_PER_SUBJECT`). @default 1000 */
  maxSubscriptionsPerSubject: number;
  /** Introspection for unauthenticated callers (tokens are always required, generated key included). @default false */
  publicIntrospection: boolean;
  /** Seconds without a report after which a client is listed as STALE in `convergence`. @default 60 */
  convergenceTimeoutS: number;
  /** Hours without a report after which a client is forgotten by `convergence`. @default 24 */
  clientRetentionH: number;
  /**
   * Keys that encrypt secret values at rest (`HOTCONF_SECRET_KEYS`: comma-separated base64 of 32
   * bytes each; the first encrypts, every one decrypts). Empty: secret values are stored as
   * plain JSON. See docs/SECRETS.md.
   * @default [] (no encryption)
   */
  secretKeys: readonly Buffer[];
  /**
   * OpenTelemetry tracing (docs/TRACING.md), on when an OTLP endpoint is configured
   * (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`) and not turned off
   * (`OTEL_SDK_DISABLED=true`, `OTEL_TRACES_EXPORTER=none`). null: no SDK is loaded.
   * @default null
   */
  tracing: TracingConfig | null;
  /** @default 'info' */
  logLevel: string;
  /** GraphiQL and friendlier errors. @default NODE_ENV !== 'production' */
  development: boolean;
}

/**
 * Where and how spans are exported. The SDK also honours its own standard variables for what is
 * not here (`OTEL_EXPORTER_OTLP_HEADERS`, `_TIMEOUT`, `_COMPRESSION`, `_CERTIFICATE`,
 * `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`): it reads those itself, so credentials in the headers
 * never pass through hotconf.
 */
export interface TracingConfig {
  /**
   * The OTLP/HTTP traces URL: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, else
   * `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` appended. Never logged (it may hold credentials).
   */
  endpoint: string;
  /** `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`. @default 'http/protobuf' */
  protocol: 'http/protobuf' | 'http/json';
  /** `service.name` (`OTEL_SERVICE_NAME`, else a `service.name` in `OTEL_RESOURCE_ATTRIBUTES`). @default 'hotconf' */
  serviceName: string;
  /** More resource attributes (`OTEL_RESOURCE_ATTRIBUTES`: `key=value,…`, percent-encoded). @default {} */
  resourceAttributes: Readonly<Record<string, string>>;
}

type Env = Record<string, string | undefined>;

/**
 * The URL with only the first of its hosts: `postgres://u@h1:5432,h2:5432/db` (libpq's multi-host
 * form, for failover; the pool tries the hosts in turn) is no WHATWG URL as it stands.
 */
function firstHostUrl(raw: string): string {
  return raw.replace(/^([a-z]+:\/\/(?:[^@/?#]*@)?)([^/?#]*)/i, (_, head: string, hosts: string) => head + hosts.split(',')[0]);
}

/** Whether a Postgres URL leaves named prepared statements on (`?prepare=false` turns them off). */
function urlAllowsPrepare(databaseUrl: string): boolean {
  const value = new URL(firstHostUrl(databaseUrl)).searchParams.get('prepare');
  return value === null || !/^(false|0|off|no|disable)$/i.test(value);
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(`${name} must be an integer ${range}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** pino's levels; anything else would make the logger throw after the config was accepted. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function logLevel(env: Env): string {
  const raw = env.LOG_LEVEL?.trim();
  if (raw === undefined || raw === '') return 'info';
  const level = raw.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return level;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be a boolean (1/0, true/false), got ${JSON.stringify(raw)}`);
}

function url(env: Env, name: string, protocols: readonly string[], { multiHost = false } = {}): string | null {
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    const hosts = multiHost ? /^[a-z]+:\/\/(?:[^@/?#]*@)?([^/?#]*)/i.exec(raw)?.[1] : undefined;
    if (!hosts?.includes(',')) throw new ConfigError(`${name} is not a URL`);
    // Each host of a multi-host URL must make a URL on its own.
    for (const host of hosts.split(',')) {
      try {
        parsed = new URL(raw.replace(hosts, host));
        if (host === '') throw new Error('empty host');
      } catch {
        throw new ConfigError(`${name} is not a URL (a multi-host URL lists host:port pairs separated by commas)`);
      }
    }
    parsed = new URL(firstHostUrl(raw));
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use ${protocols.join(' or ')}, got ${parsed.protocol}`);
  }
  return raw;
}

function secretKeys(env: Env): Buffer[] {
  const raw = env.HOTCONF_SECRET_KEYS;
  if (raw === undefined || raw.trim() === '') return [];
  try {
    return parseSecretKeys(raw);
  } catch (error) {
    // The message names the position of the bad key, never its text.
    throw new ConfigError(`HOTCONF_SECRET_KEYS: ${(error as Error).message}`);
  }
}

/** The OTLP traces exporter's settings from the standard OpenTelemetry variables; null = tracing off. */
function tracing(env: Env): TracingConfig | null {
  if (bool(env, 'OTEL_SDK_DISABLED', false)) return null;
  const exporter = (env.OTEL_TRACES_EXPORTER || 'otlp').trim();
  if (exporter === 'none') return null;
  if (exporter !== 'otlp') throw new ConfigError(`OTEL_TRACES_EXPORTER must be otlp or none, got ${JSON.stringify(exporter)}`);
  const http = ['http:', 'https:'];
  let endpoint = url(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', http);
  if (endpoint === null) {
    const base = url(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', http);
    if (base === null) return null;
    // The specification's rule for the signal-independent variable: the signal's path is appended.
    endpoint = `${base.replace(/\/+$/, '')}/v1/traces`;
  }
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf').trim();
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw new ConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json (OTLP over HTTP, port 4318), got ${JSON.stringify(protocol)}`);
  }
  const resourceAttributes: Record<string, string> = {};
  for (const pair of (env.OTEL_RESOURCE_ATTRIBUTES ?? '').split(',')) {
    if (pair.trim() === '') continue;
    const at = pair.indexOf('=');
    if (at <= 0) throw new ConfigError('OTEL_RESOURCE_ATTRIBUTES must be a list of key=value pairs separated by commas');
    try {
      resourceAttributes[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      throw new ConfigError('OTEL_RESOURCE_ATTRIBUTES has a malformed percent-encoding');
    }
  }
  // As the specification orders it: OTEL_SERVICE_NAME, then a service.name among the attributes.
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || resourceAttributes['service.name'] || 'hotconf';
  return { endpoint, protocol, serviceName, resourceAttributes };
}

/** Parse and validate the environment. Throws `ConfigError` with the variable's name. */
export function loadConfig(env: Env = process.env): Readonly<Config> {
  const jwtSecret = env.HOTCONF_JWT_SECRET || null;
  const jwksUrl = url(env, 'HOTCONF_JWKS_URL', ['http:', 'https:']);
  const authConfigured = jwtSecret !== null || jwksUrl !== null;
  const maxValueBytes = int(env, 'HOTCONF_MAX_VALUE_BYTES', 1_048_576, 1);
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:'], { multiHost: true });
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']);
  if (redisUrl !== null) {
    try {
      parseRedisUrl(redisUrl);
    } catch (error) {
      // Its messages name the part (a path, a parameter), never the password.
      throw new ConfigError((error as Error).message);
    }
  }
  const redisCluster = bool(env, 'HOTCONF_REDIS_CLUSTER', false);
  if (redisUrl !== null && redisCluster && !/^\/?0?$/.test(new URL(redisUrl).pathname)) {
    throw new ConfigError('REDIS_URL: Redis Cluster has only database 0; remove the /<db> path');
  }
  const config: Config = {
    port: int(env, 'PORT', 4000, 0, 65_535),
    host: env.HOST || (authConfigured ? '0.0.0.0' : '127.0.0.1'),
    databaseUrl,
    dataDir: env.HOTCONF_DATA_DIR || './.hotconf',
    databasePoolMax: int(env, 'DATABASE_POOL_MAX', 10, 1),
    // postgres.js ignores `?prepare=false` once an option is passed: the URL's word is the default.
    databasePrepare: bool(env, 'HOTCONF_DB_PREPARE', databaseUrl === null || urlAllowsPrepare(databaseUrl)),
    databaseTimeoutMs: int(env, 'HOTCONF_DB_TIMEOUT_MS', 5_000, 100),
    migrate: bool(env, 'HOTCONF_MIGRATE', true),
    migrationDatabaseUrl: url(env, 'HOTCONF_MIGRATION_DATABASE_URL', ['postgres:', 'postgresql:'], { multiHost: true }),
    redisUrl,
    redisCluster,
    channelPrefix: env.HOTCONF_CHANNEL_PREFIX ?? 'hotconf:',
    jwtSecret,
    jwksUrl,
    repairIntervalMs: int(env, 'HOTCONF_REPAIR_INTERVAL_MS', 2_000, 10),
    historyRetentionDays: int(env, 'HOTCONF_HISTORY_RETENTION_DAYS', 30, 1),
    maxValueBytes,
    inlineValueBytes: int(env, 'HOTCONF_INLINE_VALUE_BYTES', 65_536),
    rateLimitPerMin: int(env, 'HOTCONF_RATE_LIMIT_PER_MIN', 600),
    maxBatchSize: int(env, 'HOTCONF_MAX_BATCH_SIZE', 10_000, 1),
    maxBodyBytes: int(env, 'HOTCONF_MAX_BODY_BYTES', Math.max(4 * 1_048_576, maxValueBytes * 2 + 65_536), 1024),
    maxSubscriptionsPerConnection: int(env, 'HOTCONF_MAX_SUBSCRIPTIONS_PER_CONNECTION', 100, 1),
    maxSubscriptionsPerSubject: int(env, 'HOTCONF_MAX_SUBSCRIPTIONS_PER_SUBJECT', 1_000, 1),
    publicIntrospection: bool(env, 'HOTCONF_PUBLIC_INTROSPECTION', false),
    convergenceTimeoutS: int(env, 'HOTCONF_CONVERGENCE_TIMEOUT_S', 60, 1),
    clientRetentionH: int(env, 'HOTCONF_CLIENT_RETENTION_H', 24, 1),
    secretKeys: secretKeys(env),
    tracing: tracing(env),
    logLevel: logLevel(env),
    development: env.NODE_ENV !== 'production',
  };
  return Object.freeze(config);
}
