import { Kind, getOperationAST, type DocumentNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Cluster, Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { GraphQLGatewayError } from './errors.js';
import type { Logger } from '../logger.js';
import { principalOf, setHttpStatus, type SecurityContext } from './use-operation-limits.js';

/** The outcome of taking `cost` for one subject. */
export interface RateDecision {
  allowed: boolean;
  /** Seconds until the request could be allowed (0 when allowed). */
  retryAfterS: number;
}

/** Counts mutations per subject. */
export interface RateLimiter {
  take(subject: string, cost: number): Promise<RateDecision>;
  dispose(): void;
}

/** One family of fixed windows, aligned to the epoch: window `i` is `[offset + i·length, offset + (i+1)·length)`. */
export interface RateWindow {
  /** Part of the counter's key. */
  name: string;
  lengthMs: number;
  offsetMs: number;
  /** What one window admits. */
  points: number;
}

/**
 * Overlapping families beside the minute: 7 families of 70 s windows, started 10 s apart. Any
 * 60 s then lies inside one window of one of them (see `rateWindows`), which bounds it.
 */
const OVERLAPPING_FAMILIES = 7;
const OVERLAP_LENGTH_MS = 70_000; // 60 s · 7/6
const OVERLAP_STEP_MS = 10_000; // 70 s / 7

/**
 * The most a subject can get in ANY 60 s with `perMinute` (the minute's allowance plus a burst
 * of a sixth of it): 600 → 700, 60 → 70, 5 → 6.
 */
export function rateLimitBound(perMinute: number): number {
  return perMinute + Math.ceil(perMinute / 6);
}

/**
 * The windows a request must fit in, all of them, to pass:
 * - `m`: calendar minutes (`[k·60 s, (k+1)·60 s)`), `perMinute` each: the allowance, usable at once.
 * - `o0`…`o6`: 70 s windows starting at `j·10 s + k·70 s`, `rateLimitBound(perMinute)` each.
 *
 * Why any 60 s interval `I` gets at most `rateLimitBound(perMinute)`: the `o` families' window
 * starts, taken together, fall every 10 s, and seven in a row belong to seven different families
 * (each family starts a window every 70 s). A half-open `I` of 60 s contains exactly six of those
 * starts, so one family starts no window inside `I`: `I` lies within a single window of that
 * family, which admitted at most `rateLimitBound(perMinute)`. Fixed windows alone (only `m`)
 * would admit twice the allowance across a minute's edge; the `o` windows never refuse a subject
 * that stays at `perMinute` a minute (each admits 70 s' worth), so the steady rate is unchanged.
 */
export function rateWindows(perMinute: number): RateWindow[] {
  return [
    { name: 'm', lengthMs: 60_000, offsetMs: 0, points: perMinute },
    ...Array.from({ length: OVERLAPPING_FAMILIES }, (_, j) => ({
      name: `o${j}`,
      lengthMs: OVERLAP_LENGTH_MS,
      offsetMs: j * OVERLAP_STEP_MS,
      points: rateLimitBound(perMinute),
    })),
  ];
}

/** The part of rate-limiter-flexible's limiters used here (Redis and memory alike). */
type Counter = Pick<RateLimiterAbstract, 'consume' | 'reward'>;

/**
 * A request passes if every window's counter admits it. A refused request is given back to every
 * counter, so a request too large for the rest of a window does not eat the allowance of the
 * next ones. Each counter is atomic on its own (an INCRBY in Redis); admitted requests never sum
 * past a window's points even when gateways race, because a refund only ever lowers a count.
 */
function createWindowedLimiter(counters: Array<{ window: RateWindow; counter: Counter }>, now: () => number): RateLimiter {
  return {
    async take(subject, cost) {
      const t = now();
      const slots = counters.map(({ window, counter }) => {
        const index = Math.floor((t - window.offsetMs) / window.lengthMs);
        // The braces are a Redis Cluster hash tag: every counter of a subject lives on one slot.
        return { counter, key: `{${subject}}:${index}`, endsAt: window.offsetMs + (index + 1) * window.lengthMs };
      });
      const admitted = await Promise.all(
        slots.map(({ counter, key }) =>
          counter.consume(key, cost).then(
            () => true,
            (refusal: unknown) => {
              if (refusal instanceof RateLimiterRes) return false;
              throw refusal;
            },
          ),
        ),
      );
      if (admitted.every(Boolean)) return { allowed: true, retryAfterS: 0 };
      await Promise.all(slots.map(({ counter, key }) => counter.reward(key, cost)));
      // The earliest moment every refusing window has rolled over.
      const waitMs = Math.max(...slots.filter((_, i) => !admitted[i]).map(({ endsAt }) => endsAt - t));
      return { allowed: false, retryAfterS: Math.max(1, Math.ceil(waitMs / 1000)) };
    },
    dispose() {},
  };
}

/** ioredis statuses of a connection that was lost (not one that is still being opened). */
const LOST = new Set(['reconnecting', 'close', 'end', 'disconnecting']);

const OFF: RateLimiter = { take: async () => ({ allowed: true, retryAfterS: 0 }), dispose() {} };

export interface MemoryRateLimiterOptions {
  /** Mutations per subject per minute; 0 = off. @default 600 */
  perMinute?: number;
  /** Clock that places requests in windows, for tests. @default Date.now */
  now?: () => number;
}

/**
 * The limiter of one process: `rateWindows` counted in this process's memory
 * (rate-limiter-flexible's `RateLimiterMemory`). Behind N gateways each counts alone; give
 * `createRateLimiter` a Redis client to share the count.
 */
export function createMemoryRateLimiter({ perMinute = 600, now = Date.now }: MemoryRateLimiterOptions = {}): RateLimiter {
  if (perMinute <= 0) return OFF;
  return createWindowedLimiter(
    rateWindows(perMinute).map((window) => ({
      window,
      counter: new RateLimiterMemory({ keyPrefix: window.name, points: window.points, duration: Math.ceil(window.lengthMs / 1000) }),
    })),
    now,
  );
}

export interface RateLimiterOptions {
  /** Mutations per subject per minute; 0 = off. @default 600 */
  perMinute?: number;
  /**
   * Shared counters: with a client, the limit holds per subject across every gateway on this
   * Redis or Redis Cluster (keys `<channelPrefix>ratelimit:<window>:{<subject>}:<n>`). Not closed here.
   * @default null (in this process only)
   */
  redis?: Redis | Cluster | null;
  /** @default 'hotconf:' */
  channelPrefix?: string;
  /**
   * How long a mutation waits for Redis's verdict before this process's own count decides. A
   * lost connection (reconnecting) is not waited for at all. Generous, because a busy event loop
   * delays replies too, and a verdict not waited for is counted twice (here and in Redis).
   * @default 1_000 (1 s)
   */
  redisTimeoutMs?: number;
  /**
   * After Redis failed or timed out, the in-memory count decides alone, and Redis is PINGed at
   * most this often until it answers; mutations do not wait on it meanwhile.
   * @default 2_000 (2 s)
   */
  retryRedisAfterMs?: number;
  /** Clock that places requests in windows, for tests. @default Date.now */
  now?: () => number;
  logger?: Pick<Logger, 'warn'>;
  /**
   * Told of every failure to get a verdict from Redis (the Redis client factory's
   * `reportCommandError` logs, once, those an operator must fix: ACL, cluster mode).
   */
  onRedisError?: (error: unknown) => void;
}

/**
 * The mutation rate limiter: `rateWindows` counted in Redis (rate-limiter-flexible's
 * `RateLimiterRedis`, one atomic counter per window, Cluster-safe) with the same windows in
 * memory as the insurance limiter. When the connection is lost, Redis fails, or it has not
 * answered within `redisTimeoutMs`, the in-memory count decides, so a write never waits long on, nor fails with,
 * a Redis outage. While that lasts each gateway counts on its own.
 */
export function createRateLimiter({
  perMinute = 600,
  redis = null,
  channelPrefix = 'hotconf:',
  redisTimeoutMs = 1_000, // 1 s
  retryRedisAfterMs = 2_000, // 2 s
  now = Date.now,
  logger,
  onRedisError,
}: RateLimiterOptions = {}): RateLimiter {
  const insurance = createMemoryRateLimiter({ perMinute, now });
  if (!redis || perMinute <= 0) return insurance;
  const shared = createWindowedLimiter(
    rateWindows(perMinute).map((window) => ({
      window,
      counter: new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${channelPrefix}ratelimit:${window.name}`,
        points: window.points,
        duration: Math.ceil(window.lengthMs / 1000),
      }),
    })),
    now,
  );
  let warnedAt = 0;
  // A breaker: once Redis has failed or not answered in time, mutations stop asking it (the
  // insurance decides at once) until a PING, sent at most every `retryRedisAfterMs`, or any late
  // reply shows it answers again. A hung Redis then holds up only the mutations in flight when
  // it stopped answering, not every one after.
  let answering = true;
  let probeAt = 0;
  const client = redis;
  const probe = () => {
    if (Date.now() < probeAt) return;
    probeAt = Date.now() + retryRedisAfterMs;
    client.ping().then(
      () => {
        answering = true;
      },
      () => {},
    );
  };
  return {
    async take(subject, cost) {
      let timer: NodeJS.Timeout | undefined;
      try {
        // A connection that was lost is not waited for at all; one still being opened (the
        // gateway just started) gets the timeout, so the first writes are counted in Redis too.
        if (LOST.has(client.status)) throw new Error(`redis connection is ${client.status}`);
        if (!answering) {
          probe();
          throw new Error('redis has not answered since the last failure');
        }
        const verdict = shared.take(subject, cost);
        // A late answer proves Redis is back (an overloaded event loop, not a hung Redis).
        verdict.then(
          () => {
            answering = true;
          },
          () => {},
        );
        return await Promise.race([
          verdict,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`redis did not answer within ${redisTimeoutMs} ms`)), redisTimeoutMs);
          }),
        ]);
      } catch (error) {
        onRedisError?.(error);
        if (answering) {
          answering = false;
          probeAt = Date.now() + retryRedisAfterMs;
        }
        if (Date.now() - warnedAt > 60_000) {
          warnedAt = Date.now();
          // Redis' reply or our own timeout text: neither carries a value (a bare string under
          // `err` was logged as `{ type: 'string' }`, the reason lost).
          logger?.warn({ cause: error instanceof Error ? error.message : String(error) }, 'rate limit: no verdict from Redis, counting in this gateway only');
        }
        return insurance.take(subject, cost);
      } finally {
        clearTimeout(timer);
      }
    },
    dispose() {
      insurance.dispose();
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
 * refuses their mutations anyway. In any 60 s a subject gets at most `rateLimitBound(perMinute)`
 * mutations, over every gateway sharing `redis` (without it, per instance).
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
      const error = new GraphQLGatewayError('RATE_LIMITED', `Too many changes: retry in ${decision.retryAfterS} s`, {
        retryAfter: decision.retryAfterS,
      });
      setHttpStatus(error, { 'Retry-After': String(decision.retryAfterS) });
      setResultAndStopExecution({ errors: [error] });
    },
  };
}
