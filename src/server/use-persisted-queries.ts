import { createHash } from 'node:crypto';
import { getOperationAST, type DocumentNode } from 'graphql';
import { createGraphQLError, createLRUCache, type Plugin } from 'graphql-yoga';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { principalOf, type SecurityContext } from './use-operation-limits.js';

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

/** Apollo's APQ extension: `{ version: 1, sha256Hash }`. */
function persistedQueryOf(extensions: Record<string, unknown> | undefined): { sha256Hash: string } | null {
  const value = extensions?.persistedQuery as { version?: unknown; sha256Hash?: unknown } | undefined;
  return value?.version === 1 && typeof value.sha256Hash === 'string' ? { sha256Hash: value.sha256Hash } : null;
}

/** Whether `document` can be shared through Redis: its literals may be values, and a mutation's may be secret ones. */
function shareable(document: DocumentNode, operationName: string | null | undefined): boolean {
  return getOperationAST(document, operationName)?.operation !== 'mutation';
}

/**
 * Automatic persisted queries (Apollo's protocol, `extensions.persistedQuery.sha256Hash`): a hash
 * the gateways do not know answers `PERSISTED_QUERY_NOT_FOUND` (404) and the client sends the
 * query once with its hash (a hash that is not the query's SHA-256 is `PERSISTED_QUERY_MISMATCH`,
 * 400). The store is shared through Redis when there is one. Redis trouble never fails a request:
 * a lookup that cannot be made is a miss (the client resends the query), a registration that
 * cannot be made is skipped.
 *
 * A query is registered only once its request has run: authenticated (a caller without a valid
 * token, who would be refused anyway, parks nothing in Redis or in memory), parsed and validated.
 * A mutation is kept in this gateway's memory only, never in Redis: its literals may be secret
 * values (`setConfig(input: { value: "…", secret: true })`), and secret values never travel in
 * Redis. Another gateway answers its hash with `PERSISTED_QUERY_NOT_FOUND`, and the client resends.
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
}: PersistedQueriesOptions = {}): Plugin<SecurityContext & { request?: Request }> {
  const local = createLRUCache<string>({ max: 1_000, ttl: ttlS * 1_000 });
  let warnedAt = 0;
  const warn = (error: unknown) => {
    if (Date.now() - warnedAt < 60_000) return;
    warnedAt = Date.now();
    logger?.warn({ err: error }, 'persisted queries: Redis unavailable, using this instance only');
  };
  const lookup = async (hash: string): Promise<string | null> => {
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
  };
  const register = async (hash: string, query: string, share: boolean): Promise<void> => {
    if (Buffer.byteLength(query) > maxQueryBytes) return;
    local.set(hash, query);
    if (!redis || !share) return;
    try {
      await withTimeout(redis.set(`${keyPrefix}apq:${hash}`, query, 'EX', ttlS), redisTimeoutMs);
    } catch (error) {
      warn(error);
    }
  };

  // Queries sent with their hash, registered when their request runs (see `registerRan`).
  const pending = new WeakMap<Request, { hash: string; query: string }>();
  const registerRan = async (args: { document: DocumentNode; operationName?: string | null; contextValue: unknown }) => {
    const context = args.contextValue as (SecurityContext & { request?: Request }) | undefined;
    const request = context?.request;
    const registration = request ? pending.get(request) : undefined;
    if (!request || !registration) return;
    pending.delete(request);
    if (principalOf(context) === null) return;
    await register(registration.hash, registration.query, shareable(args.document, args.operationName));
  };

  return {
    async onParams({ params, setParams, request }) {
      const persisted = persistedQueryOf(params.extensions);
      if (persisted === null) return;
      if (params.query == null) {
        const query = await lookup(persisted.sha256Hash);
        if (query === null) {
          throw createGraphQLError('PersistedQueryNotFound', { extensions: { http: { status: 404 }, code: 'PERSISTED_QUERY_NOT_FOUND' } });
        }
        setParams({ ...params, query });
        return;
      }
      if (createHash('sha256').update(params.query).digest('hex') !== persisted.sha256Hash) {
        throw createGraphQLError('PersistedQueryMismatch', { extensions: { http: { status: 400 }, code: 'PERSISTED_QUERY_MISMATCH' } });
      }
      pending.set(request, { hash: persisted.sha256Hash, query: params.query });
    },
    onExecute: ({ args }) => registerRan(args),
    onSubscribe: ({ args }) => registerRan(args),
  };
}
