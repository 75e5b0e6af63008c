import type { AddressInfo } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import type { Server } from 'node:http';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { createGuard } from './auth/guard.js';
import { authenticateConnection } from './auth/connection.js';
import { createAuthenticator, type Authenticator } from './auth/tokens.js';
import { createMemoryBus } from './bus/memory-bus.js';
import { createRedisBus } from './bus/redis-bus.js';
import { createChangeFeed } from './bus/change-feed.js';
import { createConfigService } from './core/config-service.js';
import { createConvergence } from './core/convergence.js';
import type { ChangeBus, ChangeFeed, ConfigStore } from './core/types.js';
import { createValidator } from './core/validation.js';
import { createClientReportStore } from './db/client-reports.js';
import { createConfigStore } from './db/config-store.js';
import { connectDatabase, type Database } from './db/connect.js';
import { createGatewaySchema } from './graphql/schema.js';
import { createHealthHandlers } from './server/health.js';
import { createHttpServer } from './server/http.js';
import { createMetrics, useMetrics, type Metrics } from './server/metrics.js';
import { useOperationLimits } from './server/use-operation-limits.js';
import { useRateLimit } from './server/use-rate-limit.js';
import { attachWebSocket } from './server/websocket.js';
import { createGatewayYoga } from './server/yoga.js';

/** The package version, reported by /ready. */
export const VERSION = '0.1.0';

/** A composed gateway: everything wired, nothing listening until `start()`. */
export interface App extends AsyncDisposable {
  readonly server: Server;
  readonly store: ConfigStore;
  readonly bus: ChangeBus;
  readonly feed: ChangeFeed;
  readonly metrics: Metrics;
  readonly auth: Authenticator;
  /** Listen on the configured host and port; resolves with the bound address. */
  start(): Promise<{ host: string; port: number; url: string }>;
  /**
   * Ordered shutdown: refuse new connections, close WebSockets with 1001 so clients reconnect
   * elsewhere, end subscriptions, quit Redis, close the database. Idempotent.
   */
  stop(): Promise<void>;
}

const HOUR_MS = 3_600_000;

/** The composition root: the one place that wires store, bus, feed, GraphQL and HTTP. */
export async function createApp(config: Readonly<Config>, { logger }: { logger: Logger }): Promise<App> {
  const database: Database = await connectDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: config.databasePoolMax,
    prepare: config.databasePrepare,
    timeoutMs: config.databaseTimeoutMs,
    migrationDatabaseUrl: config.migrationDatabaseUrl,
  });
  const disposers: Array<() => Promise<void> | void> = [() => database.close()];
  const dispose = async () => {
    for (const step of disposers.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        logger.warn({ err: error }, 'shutdown step failed');
      }
    }
  };

  try {
    // PGlite is this process's own: it is always migrated. A Postgres fleet may leave it to
    // `hotconf migrate` (HOTCONF_MIGRATE=0), e.g. as a deploy step before the gateways roll.
    if (config.migrate || database.driver === 'pglite') {
      await database.migrate({ onProgress: (message) => logger.info({ driver: database.driver }, message) });
    } else {
      logger.info({ driver: database.driver }, 'migrations skipped (HOTCONF_MIGRATE=0)');
    }
    const validate = createValidator({ maxValueBytes: config.maxValueBytes, maxBatchSize: config.maxBatchSize });
    const store = createConfigStore({ database, validator: validate });
    const metrics = createMetrics();
    const bus: ChangeBus = config.redisUrl
      ? createRedisBus({ redisUrl: config.redisUrl, channelPrefix: config.channelPrefix, cluster: config.redisCluster, logger })
      : createMemoryBus();
    disposers.push(() => bus.close());
    const feed = createChangeFeed({
      store,
      bus,
      repairIntervalMs: config.repairIntervalMs,
      logger,
      onRepair: (reason, count) => metrics.gapRepairs.inc({ reason }, count),
      // Propagation time is commit → live delivery; a repair's age measures the outage, not us.
      onDeliver: (change) => {
        if (!change.replayed) metrics.observeDelivery(change.changedAt);
      },
    });
    disposers.push(() => feed.close());
    const auth = createAuthenticator({ jwtSecret: config.jwtSecret, jwksUrl: config.jwksUrl, dataDir: config.dataDir, logger });
    disposers.push(() => auth.close());
    const service = createConfigService({
      store,
      bus,
      feed,
      validate,
      logger,
      inlineValueBytes: config.inlineValueBytes,
      onCommitted: (result) => metrics.recordWrite(result),
    });
    const reports = createClientReportStore(database.db);
    const convergence = createConvergence({ store, reports, timeoutS: config.convergenceTimeoutS });

    // The health handlers connect feed, bus and store to the metrics; the lag comes from here.
    metrics.setSources({
      convergenceLag: async () => {
        const lag: Record<string, number> = {};
        for (const namespace of Object.keys(feed.stats().revisions)) {
          const view = await convergence.get(namespace);
          lag[namespace] = Math.max(0, ...view.clients.map((client) => client.lag));
        }
        return lag;
      },
    });

    // The mutation rate limit holds per subject across every gateway sharing this Redis.
    let limiterRedis: Redis | Cluster | null = null;
    if (config.redisUrl) {
      const options = { maxRetriesPerRequest: 1, connectionName: 'hotconf-ratelimit', lazyConnect: false };
      limiterRedis = config.redisCluster ? new Cluster([config.redisUrl], { redisOptions: options }) : new Redis(config.redisUrl, options);
      limiterRedis.on('error', () => {}); // the bus logs connectivity; the limiter falls back to local counting
      const client = limiterRedis;
      disposers.push(() => void client.disconnect());
    }

    const yoga = createGatewayYoga({
      schema: createGatewaySchema(),
      services: { store, service, feed, convergence, logger, validate },
      authenticate: (authorization) => auth.authenticate(authorization),
      guardFor: (principal) => createGuard(principal, { required: auth.required }),
      logger,
      graphiql: config.development,
      plugins: [
        useMetrics(metrics),
        useOperationLimits({ publicIntrospection: config.publicIntrospection }),
        useRateLimit({ perMinute: config.rateLimitPerMin, redis: limiterRedis, channelPrefix: config.channelPrefix, logger }),
      ],
    });

    const health = createHealthHandlers({ store, bus, feed, metrics, version: VERSION, startedAt: new Date() });
    const server = createHttpServer({ yoga, ops: health.handleOpsRequest, maxBodyBytes: config.maxBodyBytes, logger });
    const websocket = attachWebSocket({
      server,
      yoga,
      path: '/graphql',
      onConnect: (ctx) => authenticateConnection(auth, ctx.connectionParams, (code, reason) => ctx.extra.socket.close(code, reason)),
    });
    metrics.setSources({ sharedWs: () => websocket.stats() });

    // History retention and forgotten clients: hourly, and once shortly after start.
    const housekeeping = async () => {
      try {
        const removed = await store.compact(new Date(Date.now() - config.historyRetentionDays * 24 * HOUR_MS));
        const forgotten = await reports.prune(new Date(Date.now() - 24 * HOUR_MS));
        if (removed || forgotten) logger.info({ removed, forgotten }, 'history compacted');
      } catch (error) {
        logger.warn({ err: error }, 'history compaction failed');
      }
    };
    const firstRun = setTimeout(housekeeping, 30_000).unref();
    const hourly = setInterval(housekeeping, HOUR_MS).unref();
    disposers.push(() => {
      clearTimeout(firstRun);
      clearInterval(hourly);
    });

    let stopping: Promise<void> | null = null;
    const stop = () =>
      (stopping ??= (async () => {
        logger.info('shutting down');
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await websocket.dispose();
        // SSE streams and idle keep-alive connections would hold close() open forever.
        server.closeAllConnections();
        await closed;
        await dispose();
        logger.info('stopped');
      })());

    return {
      server,
      store,
      bus,
      feed,
      metrics,
      auth,
      async start() {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(config.port, config.host, () => {
            server.off('error', reject);
            resolve();
          });
        });
        const { address, port } = server.address() as AddressInfo;
        const host = address.includes(':') ? `[${address}]` : address;
        const url = `http://${host}:${port}/graphql`;
        logger.info({ url, host: address, port, driver: database.driver, bus: bus.status().kind }, 'listening');
        return { host: address, port, url };
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}
