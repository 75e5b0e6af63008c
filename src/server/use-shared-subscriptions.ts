import type { ExecutionArgs } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Shareable } from '../graphql/shareable.js';
import { createSharedExecutions } from './shared-executions.js';
import type { TransportContext } from './transport.js';

export interface SharedSubscriptionsOptions {
  /** Whether, and under which key, a subscription may share (the GraphQL layer's `shareableSubscription`). */
  shareable: (args: ExecutionArgs) => Shareable | null;
  /** Results one subscriber may have unconsumed before it is ended as too slow. @default 1_000 */
  maxQueuedResults?: number;
}

export interface SharedSubscriptions {
  /** Put it after the plugins that replace the subscribe function (`useProjectedSubscriptions`). */
  plugin: Plugin<TransportContext>;
  stats(): { sharedSubscriptions: number; sharedExecutions: number };
  close(): void;
}

/**
 * Shared executions for yoga's own subscription transports (SSE): subscribers under one key get
 * the results of one execution, each result made once. Each subscriber still passes every plugin
 * hook on its own (limits, token lifetime, metrics, error masking wrap its own stream); only the
 * execution behind them is shared, and it is bound to no subscriber's token. graphql-ws shares
 * in its endpoint (which also writes the frames), so its subscriptions are left alone here.
 *
 * @example
 * const sse = createSharedSubscriptions({ shareable: shareableSubscription });
 * createYoga({ plugins: [useProjectedSubscriptions(), sse.plugin] });
 */
export function createSharedSubscriptions({ shareable, maxQueuedResults = 1_000 }: SharedSubscriptionsOptions): SharedSubscriptions {
  const shared = createSharedExecutions(maxQueuedResults, Number.POSITIVE_INFINITY);
  return {
    plugin: {
      onSubscribe({ args, subscribeFn, setSubscribeFn }) {
        if (args.contextValue.transport === 'graphql-ws') return;
        const share = shareable(args as ExecutionArgs);
        if (!share) return;
        setSubscribeFn((subscribeArgs) => shared.subscribe(share, () => subscribeFn(subscribeArgs), null));
      },
    },
    stats: () => shared.stats(),
    close: () => shared.close(),
  };
}
