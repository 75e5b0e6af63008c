import { Kind, getOperationAST, type DocumentNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Cluster, Redis } from 'ioredis';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { principalOf, setHttpStatus, type SecurityContext } from './use-operation-limits.js';

/** The outcome of taking `cost` tokens for one subject. */
export interface RateDecision {
  allowed: boolean;
  /** Seconds until the request would be allowed (0 when allowed). */
  retryAfterS: number;
}

/** Counts mutations per subject. */
export interface RateLimiter {
  take(subject: string, cost: number): Promise<RateDecision>;
  dispose(): void;
}

export interface MemoryRateLimiterOptions {
  /** Mutations per subject per minute; 0 = off. @default 600 */
  perMinute?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
  /** Subjects tracked at most; the idlest are forgotten first. @default 100_000 */
  maxSubjects?: number;
}

/**
 * A token bucket per subject in this process's memory: `perMinute` tokens, refilled
 * continuously. Behind N gateways each instance counts on its own (a subject gets up to N× the
 * limit); pass Redis to `createRateLimiter` to share the count.
 */
export function createMemoryRateLimiter({ perMinute = 600, now = Date.now, maxSubjects = 100_000 }: MemoryRateLimiterOptions = {}): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const ratePerMs = perMinute / 60_000;
  return {
    async take(subject, cost) {
      if (perMinute <= 0) return { allowed: true, retryAfterS: 0 };
      const t = now();
      const bucket = buckets.get(subject) ?? { tokens: perMinute, at: t };
      bucket.tokens = Math.min(perMinute, bucket.tokens + (t - bucket.at) * ratePerMs);
      bucket.at = t;
      // Re-insert so Map order is least-recently-used first.
      buckets.delete(subject);
      buckets.set(subject, bucket);
      if (buckets.size > maxSubjects) {
        const oldest = buckets.keys().next().value;
        if (oldest !== undefined) buckets.delete(oldest);
      }
      if (bucket.tokens >= cost) {
        bucket.tokens -= cost;
        return { allowed: true, retryAfterS: 0 };
      }
      // A request costing more than a full bucket can never pass; say so with a full minute.
      const missing = Math.min(cost, perMinute) - bucket.tokens;
      return { allowed: false, retryAfterS: Math.max(1, Math.ceil(missing / ratePerMs / 1000)) };
    },
    dispose() {
      buckets.clear();
    },
  };
}

// One atomic step: count this request into the current one-minute window of the subject and
// report the window's total and remaining lifetime. A refused request is taken back out so it
// does not eat into the next caller's allowance.
const WINDOW_SCRIPT = `
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if count == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local ttl = redis.call('PTTL', KEYS[1])
if count > tonumber(ARGV[3]) then redis.call('DECRBY', KEYS[1], ARGV[1]) end
return {count, ttl}
`;

export interface RateLimiterOptions {
  /** Mutations per subject per minute; 0 = off. @default 600 */
  perMinute?: number;
  /**
   * Shared counter: with it, the limit holds per subject across every gateway on this Redis
   * (a fixed one-minute window per subject under `<channelPrefix>ratelimit:`). Not closed here.
   * @default null (in-memory token bucket, per instance)
   */
  redis?: Redis | Cluster | null;
  /** @default 'hotconf:' */
  channelPrefix?: string;
  /** How long a Redis round trip may take before this instance decides alone. @default 250 (ms) */
  redisTimeoutMs?: number;
  logger?: Pick<Logger, 'warn'>;
}

/**
 * The mutation rate limiter: shared through Redis when a client is given, else in memory.
 * When Redis does not answer within `redisTimeoutMs` the in-memory bucket decides, so writes
 * never wait on (or fail with) a Redis outage.
 */
export function createRateLimiter({
  perMinute = 600,
  redis = null,
  channelPrefix = 'hotconf:',
  redisTimeoutMs = 250, // 250 ms
  logger,
}: RateLimiterOptions = {}): RateLimiter {
  const local = createMemoryRateLimiter({ perMinute });
  if (!redis || perMinute <= 0) return local;
  const client = redis;
  let warnedAt = 0;
  return {
    async take(subject, cost) {
      const window = Math.floor(Date.now() / 60_000);
      // Hash tag braces keep every key of a subject on one Cluster slot.
      const key = `${channelPrefix}ratelimit:{${subject}}:${window}`;
      let timer: NodeJS.Timeout | undefined;
      try {
        const reply = await Promise.race([
          client.eval(WINDOW_SCRIPT, 1, key, String(cost), String(61_000), String(perMinute)),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`redis did not answer within ${redisTimeoutMs} ms`)), redisTimeoutMs);
          }),
        ]);
        const [count, ttlMs] = reply as [number, number];
        if (count <= perMinute) return { allowed: true, retryAfterS: 0 };
        return { allowed: false, retryAfterS: Math.max(1, Math.ceil((ttlMs > 0 ? ttlMs : 60_000) / 1000)) };
      } catch (error) {
        if (Date.now() - warnedAt > 60_000) {
          warnedAt = Date.now();
          logger?.warn({ err: error }, 'rate limit: Redis unavailable, counting in this instance only');
        }
        return local.take(subject, cost);
      } finally {
        clearTimeout(timer);
      }
    },
    dispose() {
      local.dispose();
    },
  };
}

/** Root fields of `set` with fragments expanded, memoised per fragment (a fragment bomb stays linear). */
function rootFields(document: DocumentNode, set: SelectionSetNode): number {
  const memo = new Map<string, number>();
  const count = (current: SelectionSetNode, path: ReadonlySet<string>): number => {
    let total = 0;
    for (const selection of current.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== '__typename') total += 1;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        total += count(selection.selectionSet, path);
      } else {
        const name = selection.name.value;
        if (path.has(name)) continue;
        let known = memo.get(name);
        if (known === undefined) {
          const fragment = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === name);
          known = fragment && fragment.kind === Kind.FRAGMENT_DEFINITION ? count(fragment.selectionSet, new Set([...path, name])) : 0;
          memo.set(name, known);
        }
        total += known;
      }
    }
    return total;
  };
  return count(set, new Set());
}

export interface RateLimitPluginOptions extends RateLimiterOptions {
  /** A limiter to use instead of building one from `perMinute`/`redis`. Not disposed here. */
  limiter?: RateLimiter;
  /**
   * Mutation fields that do not count (telemetry the SDK sends, not a config change).
   * @default ['reportApplied']
   */
  exempt?: readonly string[];
}

/**
 * Refuses mutations over the per-subject rate with `RATE_LIMITED` (`extensions.retryAfter` in
 * seconds, HTTP 429 with `Retry-After`). Each root mutation field counts as one, so aliasing
 * twenty `setConfig`s in one request costs twenty. Anonymous callers are not counted: the guard
 * refuses their mutations anyway. Without `redis` the count is per instance.
 *
 * @example createYoga({ plugins: [useRateLimit({ perMinute: config.rateLimitPerMin, redis, channelPrefix: config.channelPrefix })] })
 */
export function useRateLimit(options: RateLimitPluginOptions = {}): Plugin<SecurityContext> {
  const { limiter = createRateLimiter(options), exempt = ['reportApplied'] } = options;
  const exemptSet = new Set(exempt);
  const countable = (document: DocumentNode, operation: OperationDefinitionNode): number => {
    const all = rootFields(document, operation.selectionSet);
    const free = operation.selectionSet.selections.filter((s) => s.kind === Kind.FIELD && exemptSet.has(s.name.value)).length;
    return all - free;
  };
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName ?? undefined);
      if (!operation || operation.operation !== 'mutation') return;
      const principal = principalOf(args.contextValue);
      if (!principal) return;
      const cost = countable(args.document, operation);
      if (cost === 0) return;
      const decision = await limiter.take(principal.sub, cost);
      if (decision.allowed) return;
      const error = new GatewayError('RATE_LIMITED', `Too many changes: retry in ${decision.retryAfterS} s`, {
        retryAfter: decision.retryAfterS,
      });
      setHttpStatus(error, { 'Retry-After': String(decision.retryAfterS) });
      setResultAndStopExecution({ errors: [error] });
    },
  };
}
