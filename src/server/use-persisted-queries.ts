import { useAPQ, type APQStore } from '@graphql-yoga/plugin-apq';
import { createLRUCache, type Plugin } from 'graphql-yoga';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../logger.js';

export interface PersistedQueriesOptions {
  /**
   * Shared store: with it, a query registered through one gateway is found by every other (a
   * client's retries land anywhere behind the load balancer). Not closed here.
   * @default null (an in-process LRU: one instance only)
   */
  redis?: Redis | Cluster | null;
  /** Prefix of the Redis keys (`<prefix>apq:<sha256>`). @default 'hotconf:' */
  keyPrefix?: string;
  /** How long a registered query is kept after its last registration. @default 86_400 (1 day, in seconds) */
  ttlS?: number;
  /**
   * Largest query text registered. Real operations are small (the token limit applies when
   * they run); registration happens before parsing, so this bounds what a caller can park in
   * the store. @default 16_384 (16 KiB)
   */
  maxQueryBytes?: number;
  /** How long a Redis round trip may take before the store counts as a miss. @default 250 (ms) */
  redisTimeoutMs?: number;
  logger?: Pick<Logger, 'warn'>;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Automatic persisted queries (Apollo's protocol, `extensions.persistedQuery.sha256Hash`) with
 * graphql-yoga's APQ plugin: a hash the gateways do not know answers `PERSISTED_QUERY_NOT_FOUND`
 * and the client sends the query once; the store is shared through Redis when there is one.
 * Redis trouble never fails a request: a lookup that cannot be made is a miss (the client
 * resends the query), a registration that cannot be made is skipped.
 *
 * @example createYoga({ plugins: [usePersistedQueries({ redis, keyPrefix: config.channelPrefix })] })
 */
export function usePersistedQueries({
  redis = null,
  keyPrefix = 'hotconf:',
  ttlS = 86_400, // 1 day
  maxQueryBytes = 16_384, // 16 KiB
  redisTimeoutMs = 250, // 250 ms
  logger,
}: PersistedQueriesOptions = {}): Plugin {
  const local = createLRUCache<string>({ max: 1_000, ttl: ttlS * 1_000 });
  let warnedAt = 0;
  const warn = (error: unknown) => {
    if (Date.now() - warnedAt < 60_000) return;
    warnedAt = Date.now();
    logger?.warn({ err: error }, 'persisted queries: Redis unavailable, using this instance only');
  };
  const store: APQStore = {
    async get(hash) {
      const known = local.get(hash);
      if (known !== undefined || !redis) return known ?? null;
      try {
        const shared = await withTimeout(redis.get(`${keyPrefix}apq:${hash}`), redisTimeoutMs);
        if (shared !== null) local.set(hash, shared);
        return shared;
      } catch (error) {
        warn(error);
        return null;
      }
    },
    async set(hash, query) {
      // The plugin has checked that `hash` is the query's SHA-256 before it stores it.
      if (Buffer.byteLength(query) > maxQueryBytes) return;
      local.set(hash, query);
      if (!redis) return;
      try {
        await withTimeout(redis.set(`${keyPrefix}apq:${hash}`, query, 'EX', ttlS), redisTimeoutMs);
      } catch (error) {
        warn(error);
      }
    },
  };
  return useAPQ({ store });
}
