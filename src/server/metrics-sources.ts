import type { ChangeBus, ChangeFeed, ConfigStore } from '../core/types.js';
import type { Metrics } from './metrics.js';

/** What the live gauges of `/metrics` read; everything is read only when Prometheus scrapes. */
export interface MetricsSourceParts {
  store: Pick<ConfigStore, 'ping' | 'stats' | 'revisions'>;
  bus: Pick<ChangeBus, 'status'>;
  feed: Pick<ChangeFeed, 'stats'>;
  /** Per-namespace client reports (`createConvergence`): the largest applied-revision lag. */
  convergence?: { get(namespace: string): Promise<{ clients: ReadonlyArray<{ lag: number }> }> };
  /** The graphql-ws server's shared executions. */
  websocket?: { stats(): { sharedExecutions: number; sharedSubscriptions: number } };
}

/**
 * The one place that points the metrics' live gauges at the gateway's parts (store, bus, feed,
 * convergence, WebSocket server), so that `/ready` and `/metrics` read the same state.
 *
 * @example connectMetricsSources(metrics, { store, bus, feed, convergence, websocket });
 */
export function connectMetricsSources(metrics: Pick<Metrics, 'setSources'>, { store, bus, feed, convergence, websocket }: MetricsSourceParts): void {
  metrics.setSources({
    feedStats: () => feed.stats(),
    busStatus: () => bus.status(),
    pingStore: () => store.ping(),
    pool: () => {
      const { max, size, inUse, idle, waiting } = store.stats();
      // The embedded database has no pool: no series rather than zeros that look like one.
      if (typeof max !== 'number' || typeof size !== 'number' || typeof inUse !== 'number' || typeof idle !== 'number' || typeof waiting !== 'number') {
        return null;
      }
      return { max, size, inUse, idle, waiting };
    },
    storeRevisions: (names) => store.revisions(names),
    ...(convergence && {
      convergenceLag: async () => {
        const lag: Record<string, number> = {};
        for (const namespace of Object.keys(feed.stats().revisions)) {
          const view = await convergence.get(namespace);
          lag[namespace] = Math.max(0, ...view.clients.map((client) => client.lag));
        }
        return lag;
      },
    }),
    ...(websocket && { sharedWs: () => websocket.stats() }),
  });
}
