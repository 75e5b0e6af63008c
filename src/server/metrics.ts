import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ChangeBus, FeedStats, WriteResult } from '../core/types.js';

/**
 * The gateway's Prometheus registry: every metric name, label and help text, and the gauges that
 * read live state when scraped. Counting GraphQL operations is `use-metrics.ts` (the yoga
 * plugin), serving them is `metrics-endpoint.ts`, and connecting the live sources is
 * `metrics-sources.ts`, so this module knows no transport and no GraphQL.
 */

/** Live state the gauges read when Prometheus scrapes (nothing polls when nobody scrapes). */
export interface MetricsSources {
  /** The change feed's counters: revisions delivered per namespace, repairs, subscribers. */
  feedStats?: () => FeedStats;
  /** The bus: connectivity and publish failures. */
  busStatus?: () => ReturnType<ChangeBus['status']>;
  /** Throws when Postgres does not answer (`store.ping`). */
  pingStore?: () => Promise<void>;
  /** Current revision in Postgres of each named namespace (`store.revisions`). */
  storeRevisions?: (namespaces: readonly string[]) => Promise<Map<string, number>>;
  /** Largest applied-revision lag of any live client, per namespace (from convergence). */
  convergenceLag?: () => Record<string, number> | Promise<Record<string, number>>;
  /**
   * Open subscriptions by transport. When absent, `useMetrics` counts them itself from the
   * subscriptions it sees start and end.
   */
  subscribers?: () => { ws: number; sse: number };
  /**
   * graphql-ws subscriptions that share one execution (counted once by `useMetrics`): how many
   * executions serve how many subscriptions, so the ws count reports subscriptions.
   */
  sharedWs?: () => { sharedExecutions: number; sharedSubscriptions: number };
  /** The database pool as the gateway counts it (null for the embedded database). */
  pool?: () => DatabasePoolStats | null;
}

/** Live figures of the Postgres pool (see `src/db/session-pool.ts`). */
export interface DatabasePoolStats {
  max: number;
  size: number;
  inUse: number;
  idle: number;
  waiting: number;
}

export type Transport = 'ws' | 'sse';

export interface Metrics {
  readonly registry: Registry;
  /** The Content-Type of `render()`'s output. */
  readonly contentType: string;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<string>;
  readonly graphqlRequests: Counter<'operation' | 'type' | 'code'>;
  readonly graphqlDuration: Histogram<'operation' | 'type' | 'code'>;
  readonly configChanges: Counter<'namespace' | 'op'>;
  /** Seconds from a change's commit to its delivery to one subscriber. */
  readonly propagation: Histogram;
  readonly subscribers: Gauge<'transport'>;
  readonly namespaceRevision: Gauge<'namespace' | 'source'>;
  readonly clientRevisionLag: Gauge<'namespace'>;
  readonly gapRepairs: Counter<'reason'>;
  readonly redisUp: Gauge;
  readonly postgresUp: Gauge;
  readonly publishFailures: Counter;
  /** Reads (`config`, `configs`, `configDrift`, flag evaluation, OFREP) by where they were answered: `cache` or `store`. */
  readonly reads: Counter<'source'>;
  /** Calls of the store (each one statement or one transaction on Postgres), by method. */
  readonly storeCalls: Counter<'method'>;
  /** Connect the gauges to live state; later calls add to / replace earlier sources. */
  setSources(sources: MetricsSources): void;
  /** Count one committed write (call once per `WriteResult`). */
  recordWrite(result: WriteResult): void;
  /** A live (not replayed) change committed at `changedAt` was delivered just now. */
  observeDelivery(changedAt: Date | string | number): void;
  /** graphql-ws executions shared by several subscriptions, and how many subscriptions they serve. */
  sharedWsStats(): { sharedExecutions: number; sharedSubscriptions: number };
  /** Open subscriptions by transport, as reported by the sources or counted by `useMetrics`. */
  subscriberCounts(): { ws: number; sse: number };
  /** Count an open subscription until the returned function is called (idempotent). */
  trackSubscriber(transport: Transport): () => void;
}

export interface CreateMetricsOptions {
  /**
   * Registry to register into. A fresh one by default, so several gateways in one process
   * (tests) do not collide on metric names.
   * @default new Registry()
   */
  registry?: Registry;
  /** Collect Node process metrics (CPU, memory, event loop lag, GC). @default true */
  defaultMetrics?: boolean;
  /** Longest wait for `pingStore` during a scrape before reporting Postgres down. @default 1000 (1 s) */
  pingTimeoutMs?: number;
}

/** Every metric name `createMetrics` registers besides the process defaults. */
export const METRIC_NAMES = [
  'hotconf_graphql_requests_total',
  'hotconf_graphql_request_duration_seconds',
  'hotconf_config_changes_total',
  'hotconf_propagation_seconds',
  'hotconf_subscribers',
  'hotconf_ws_shared_executions',
  'hotconf_namespace_revision',
  'hotconf_client_revision_lag',
  'hotconf_gap_repairs_total',
  'hotconf_redis_up',
  'hotconf_postgres_up',
  'hotconf_publish_failures_total',
  'hotconf_db_pool_max',
  'hotconf_db_pool_connections',
  'hotconf_db_pool_waiting',
  'hotconf_reads_total',
  'hotconf_store_calls_total',
] as const;

/** Timeout helper that never leaves a timer behind. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The gateway's Prometheus metrics (prom-client). Counters the gateway increments itself
 * (requests, changes, propagation) plus gauges that read live state through `setSources` only
 * when scraped.
 *
 * @example
 * const metrics = createMetrics();
 * metrics.setSources({ feedStats: () => feed.stats(), busStatus: () => bus.status(), pingStore: () => store.ping() });
 * createYoga({ plugins: [useMetrics(metrics)] });
 */
export function createMetrics(options: CreateMetricsOptions = {}): Metrics {
  const {
    registry = new Registry(),
    defaultMetrics = true,
    pingTimeoutMs = 1_000, // 1 s
  } = options;
  let sources: MetricsSources = {};
  const counted = { ws: 0, sse: 0 };

  if (defaultMetrics) collectDefaultMetrics({ register: registry });

  const graphqlRequests = new Counter({
    name: 'hotconf_graphql_requests_total',
    help: 'GraphQL operations by operation name, type and outcome code (first error extensions.code, OK when none)',
    labelNames: ['operation', 'type', 'code'] as const,
    registers: [registry],
  });
  const graphqlDuration = new Histogram({
    name: 'hotconf_graphql_request_duration_seconds',
    help: 'Duration of GraphQL operations (for subscriptions: until the subscription is set up)',
    labelNames: ['operation', 'type', 'code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const configChanges = new Counter({
    name: 'hotconf_config_changes_total',
    help: 'Committed config changes by namespace and op (SET, DELETE)',
    labelNames: ['namespace', 'op'] as const,
    registers: [registry],
  });
  const propagation = new Histogram({
    name: 'hotconf_propagation_seconds',
    help: 'Time from a change commit to its delivery to a subscriber of this gateway',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'hotconf_ws_shared_executions',
    help: 'Executions that serve graphql-ws subscriptions sharing one selection and filter (each change runs once per execution)',
    registers: [registry],
    collect() {
      this.set(sources.sharedWs?.().sharedExecutions ?? 0);
    },
  });
  const subscribers = new Gauge({
    name: 'hotconf_subscribers',
    help: 'Open configChanged subscriptions by transport',
    labelNames: ['transport'] as const,
    registers: [registry],
    collect() {
      const counts = subscriberCounts();
      this.set({ transport: 'ws' }, counts.ws);
      this.set({ transport: 'sse' }, counts.sse);
    },
  });
  const namespaceRevision = new Gauge({
    name: 'hotconf_namespace_revision',
    help: 'Namespace revision as last delivered by this gateway (source=gateway) and as committed in Postgres (source=db)',
    labelNames: ['namespace', 'source'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const seen = sources.feedStats?.().revisions ?? {};
      const names = Object.keys(seen);
      for (const name of names) this.set({ namespace: name, source: 'gateway' }, seen[name]!);
      if (names.length > 0 && sources.storeRevisions) {
        try {
          const db = await withTimeout(sources.storeRevisions(names), pingTimeoutMs);
          for (const [name, revision] of db) this.set({ namespace: name, source: 'db' }, revision);
        } catch {
          // Postgres down: hotconf_postgres_up says so; the db series are absent rather than stale.
        }
      }
    },
  });
  const clientRevisionLag = new Gauge({
    name: 'hotconf_client_revision_lag',
    help: 'Largest gap between the namespace revision and the revision a live client reported as applied',
    labelNames: ['namespace'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      if (!sources.convergenceLag) return;
      try {
        const lags = await sources.convergenceLag();
        for (const [name, lag] of Object.entries(lags)) this.set({ namespace: name }, lag);
      } catch {
        // Convergence unavailable (Postgres down): no series rather than a wrong one.
      }
    },
  });

  const reads = new Counter({
    name: 'hotconf_reads_total',
    help: 'Reads (config, configs, configDrift, flag evaluation, OFREP) by where they were answered: cache (memory) or store (Postgres)',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  for (const source of ['cache', 'store'] as const) reads.inc({ source }, 0);
  const storeCalls = new Counter({
    name: 'hotconf_store_calls_total',
    help: 'Calls of the config store (each one statement or one transaction on Postgres), by method',
    labelNames: ['method'] as const,
    registers: [registry],
  });
  // Incremented by the change feed as it repairs (`gapRepairs.inc({ reason }, count)`).
  const gapRepairs = new Counter({
    name: 'hotconf_gap_repairs_total',
    help: 'Repairs that read missed changes from Postgres history, by reason (gap, reconnect, periodic)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of ['gap', 'reconnect', 'periodic'] as const) gapRepairs.inc({ reason }, 0);
  // Mirrors the bus's own total: advances by the difference since the last scrape, so it stays
  // monotonic (a restarted process starts again from 0, as Prometheus expects).
  let lastPublishFailures = 0;
  const publishFailures = new Counter({
    name: 'hotconf_publish_failures_total',
    help: 'Change messages that could not be published to the bus (delivery then relies on repair)',
    registers: [registry],
    collect() {
      const now = sources.busStatus?.().publishFailures ?? lastPublishFailures;
      if (now > lastPublishFailures) this.inc(now - lastPublishFailures);
      lastPublishFailures = now;
    },
  });
  const redisUp = new Gauge({
    name: 'hotconf_redis_up',
    help: '1 when the change bus is connected (the in-process bus always is), else 0',
    registers: [registry],
    collect() {
      const status = sources.busStatus?.();
      this.set(status ? (status.connected ? 1 : 0) : 1);
    },
  });
  const postgresUp = new Gauge({
    name: 'hotconf_postgres_up',
    help: '1 when the database answered a ping during this scrape, else 0',
    registers: [registry],
    async collect() {
      if (!sources.pingStore) return;
      try {
        await withTimeout(sources.pingStore(), pingTimeoutMs);
        this.set(1);
      } catch {
        this.set(0);
      }
    },
  });

  // The pool as counted by our own session pool: size = in use + idle, callers waiting apart.
  new Gauge({
    name: 'hotconf_db_pool_max',
    help: 'Largest number of Postgres connections of this gateway (DATABASE_POOL_MAX)',
    registers: [registry],
    collect() {
      const pool = sources.pool?.();
      if (pool) this.set(pool.max);
    },
  });
  new Gauge({
    name: 'hotconf_db_pool_connections',
    help: 'Open Postgres connections of this gateway by state (in_use: lent to an operation, idle)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const pool = sources.pool?.();
      if (!pool) return;
      this.set({ state: 'in_use' }, pool.inUse);
      this.set({ state: 'idle' }, pool.idle);
    },
  });
  new Gauge({
    name: 'hotconf_db_pool_waiting',
    help: 'Operations waiting for a free Postgres connection',
    registers: [registry],
    collect() {
      const pool = sources.pool?.();
      if (pool) this.set(pool.waiting);
    },
  });

  function subscriberCounts(): { ws: number; sse: number } {
    if (sources.subscribers) return sources.subscribers();
    const shared = sources.sharedWs?.();
    return shared ? { ws: counted.ws - shared.sharedExecutions + shared.sharedSubscriptions, sse: counted.sse } : { ...counted };
  }

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    graphqlRequests,
    graphqlDuration,
    configChanges,
    propagation,
    subscribers,
    namespaceRevision,
    clientRevisionLag,
    gapRepairs,
    redisUp,
    postgresUp,
    publishFailures,
    reads,
    storeCalls,
    sharedWsStats: () => {
      const shared = sources.sharedWs?.();
      return { sharedExecutions: shared?.sharedExecutions ?? 0, sharedSubscriptions: shared?.sharedSubscriptions ?? 0 };
    },
    setSources(next) {
      sources = { ...sources, ...next };
    },
    recordWrite(result) {
      for (const change of result.changes) configChanges.inc({ namespace: result.namespace, op: change.op });
    },
    observeDelivery(changedAt) {
      const at = changedAt instanceof Date ? changedAt.getTime() : typeof changedAt === 'number' ? changedAt : Date.parse(changedAt);
      if (!Number.isFinite(at)) return;
      // Clocks of two hosts may disagree by a little: never observe a negative time.
      propagation.observe(Math.max(0, Date.now() - at) / 1_000);
    },
    subscriberCounts,
    trackSubscriber(transport) {
      counted[transport] += 1;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        counted[transport] -= 1;
      };
    },
  };
}
