import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { GraphQLGatewayError } from './errors.js';
import { principalOf, setHttpStatus, type SecurityContext } from './use-operation-limits.js';
import { isAsyncIterable, onStreamEnd, type TransportContext } from './transport.js';

export interface SubscriptionLimits {
  /** Subscriptions one graphql-ws connection may hold at once. @default 100 */
  perConnection?: number;
  /** Subscriptions one subject (`sub`) may hold on this gateway at once, graphql-ws and SSE together. @default 1_000 */
  perSubject?: number;
}

/** One subscription's place under the limits. `release` gives it back; calling it again does nothing. */
export interface SubscriptionSlot {
  release(): void;
}

export interface SubscriptionLimiter {
  /**
   * Takes a slot for one subscription of `subject`, on `connection` when it is one of several
   * subscriptions sharing a connection (a graphql-ws socket). Throws `RATE_LIMITED` (extensions
   * `limit`, `max`) when either limit is reached; nothing is taken then.
   */
  acquire(subject: string, connection?: object): SubscriptionSlot;
  /** Subscriptions held now, and by how many subjects. */
  stats(): { subscriptions: number; subjects: number };
}

/**
 * Counts live subscriptions per connection and per subject, in this gateway's memory (a
 * subject's subscriptions on other gateways are theirs to count: the limit bounds the work one
 * caller can put on one process).
 *
 * @example
 * const slot = limiter.acquire(principal.sub, socket); // throws RATE_LIMITED
 * stream = onStreamEnd(stream, slot.release);
 */
export function createSubscriptionLimiter({ perConnection = 100, perSubject = 1_000 }: SubscriptionLimits = {}): SubscriptionLimiter {
  const bySubject = new Map<string, number>();
  const byConnection = new WeakMap<object, number>();
  let total = 0;

  return {
    acquire(subject, connection) {
      const onConnection = connection ? (byConnection.get(connection) ?? 0) : 0;
      if (connection && onConnection >= perConnection) {
        throw new GraphQLGatewayError('RATE_LIMITED', `Too many subscriptions on this connection (limit ${perConnection}); complete one first`, {
          limit: 'subscriptionsPerConnection',
          max: perConnection,
        });
      }
      const ofSubject = bySubject.get(subject) ?? 0;
      if (ofSubject >= perSubject) {
        throw new GraphQLGatewayError('RATE_LIMITED', `Too many subscriptions for this caller on this gateway (limit ${perSubject}); complete one first`, {
          limit: 'subscriptionsPerSubject',
          max: perSubject,
        });
      }
      bySubject.set(subject, ofSubject + 1);
      if (connection) byConnection.set(connection, onConnection + 1);
      total++;
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          total--;
          const left = (bySubject.get(subject) ?? 1) - 1;
          if (left > 0) bySubject.set(subject, left);
          else bySubject.delete(subject);
          if (connection) byConnection.set(connection, Math.max(0, (byConnection.get(connection) ?? 1) - 1));
        },
      };
    },
    stats: () => ({ subscriptions: total, subjects: bySubject.size }),
  };
}

/** The subject a subscription is counted under: the token's `sub` (`anonymous` without one). */
export function subjectOf(context: SecurityContext | undefined): string {
  return principalOf(context)?.sub ?? 'anonymous';
}

/**
 * Counts every subscription yoga runs over HTTP (SSE) against `limiter`'s per-subject limit,
 * refusing one over it with `RATE_LIMITED` (HTTP 429) before it starts; the slot is given back
 * when the stream ends, however it ends. graphql-ws subscriptions are counted by the WebSocket
 * endpoint (per connection too), which sees each subscriber of a shared execution.
 *
 * @example createYoga({ plugins: [useSubscriptionLimits({ limiter })] })
 */
export function useSubscriptionLimits({ limiter }: { limiter: SubscriptionLimiter }): Plugin<SecurityContext & TransportContext> {
  return {
    onSubscribe({ args, subscribeFn, setSubscribeFn, setResultAndStopExecution }) {
      if (args.contextValue.transport === 'graphql-ws') return undefined;
      let slot: SubscriptionSlot;
      try {
        slot = limiter.acquire(subjectOf(args.contextValue));
      } catch (error) {
        if (!(error instanceof GraphQLGatewayError)) throw error;
        setHttpStatus(error);
        setResultAndStopExecution({ errors: [error] });
        return undefined;
      }
      // A subscribe function that throws skips onSubscribeResult: give the slot back here.
      setSubscribeFn(async (subscribeArgs) => {
        try {
          return await subscribeFn(subscribeArgs);
        } catch (error) {
          slot.release();
          throw error;
        }
      });
      return {
        onSubscribeResult({ result, setResult }) {
          if (isAsyncIterable<ExecutionResult>(result)) setResult(onStreamEnd(result, slot.release));
          else slot.release();
        },
      };
    },
  };
}
