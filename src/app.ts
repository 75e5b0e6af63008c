import type { AddressInfo } from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Tracer, TracerProvider } from '@opentelemetry/api';
import type { Config } from './config.js';
import { hasErrorCode, isUnavailableError } from './errors.js';
import type { Logger } from './logger.js';
import { createGuard } from './auth/guard.js';
import { authenticateConnection } from './auth/connection.js';
import { createAuthenticator, type Authenticator } from './auth/tokens.js';
import { createMemoryBus } from './bus/memory-bus.js';
import { createRedisBus } from './bus/redis-bus.js';
import { createRedisClientFactory, type RedisClient } from './bus/redis-client.js';
import { createChangeFeed } from './bus/change-feed.js';
import { createConfigService } from './core/config-service.js';
import { createConvergence } from './core/convergence.js';
import type { ChangeBus, ChangeFeed, ConfigStore } from './core/types.js';
import { createValidator } from './core/validation.js';
import { countStoreCalls } from './core/counted-store.js';
import { createWatchCache } from './core/watch-cache.js';
import { createSecretBox } from './core/secret-box.js';
import { createClientReportStore } from './db/client-reports.js';
import { createConfigStore } from './db/config-store.js';
import { connectDatabase, type Database } from './db/connect.js';
import { createGatewaySchema } from './graphql/schema.js';
import { createHealthHandlers } from './server/health.js';
import { createHttpServer } from './server/http.js';
import { createMetrics, type Metrics } from './server/metrics.js';
import { createMetricsEndpoint } from './server/metrics-endpoint.js';
import { connectMetricsSources } from './server/metrics-sources.js';
import { useMetrics } from './server/use-metrics.js';
import { createOfrepHandler } from './server/ofrep.js';
import { useOperationLimits } from './server/use-operation-limits.js';
import { usePersistedQueries } from './server/use-persisted-queries.js';
import { useRateLimit } from './server/use-rate-limit.js';
import { createSubscriptionLimiter, useSubscriptionLimits } from './server/use-subscription-limits.js';
import { attachWebSocket } from './server/websocket.js';
import { shareableSubscription } from './graphql/shareable.js';
import { createSharedSubscriptions } from './server/use-shared-subscriptions.js';
import { createGatewayYoga } from './server/yoga.js';
import { VERSION } from './version.js';

/** The package version (package.json), reported by /health and /ready. */
export { VERSION };

// The gateway's entry points as functions (what `node dist/main.js` and `hotconf serve`/`migrate`/
// `token`/`secrets rotate` run), for embedding and scripts.
export {
  EntryPointError,
  issueToken,
  migrate,
  rotateSecrets,
  startGateway,
  type GatewayEnv,
  type IssueTokenOptions,
  type StartGatewayOptions,
  type StartedGateway,
} from './gateway.js';

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

/** What `createApp` takes besides the configuration. */
export interface AppOptions {
  logger: Logger;
  /**
   * Spans go to this provider instead of one built from `config.tracing` (tests, embedding); the
   * caller owns it (`stop()` does not shut it down). @default undefined
   */
  tracerProvider?: TracerProvider;
}

/** The composition root: the one place that wires store, bus, feed, GraphQL and HTTP. */
export async function createApp(config: Readonly<Config>, { logger, tracerProvider }: AppOptions): Promise<App> {
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
    // Tracing off (no endpoint, no provider): the SDK is never loaded and no module gets a tracer.
    let tracer: Tracer | undefined;
    if (tracerProvider || config.tracing) {
      const sdk = await import('./server/tracing.js');
      sdk.installTracingGlobals();
      if (tracerProvider) {
        tracer = tracerProvider.getTracer(sdk.TRACER_NAME, VERSION);
      } else if (config.tracing) {
        const tracing = await sdk.startTracing(config.tracing, { version: VERSION, logger });
        tracer = tracing.tracer;
        // Last step of shutdown: spans of everything stopped before it are exported.
        disposers.unshift(() => tracing.shutdown());
      }
    }
    // PGlite is this process's own: it is always migrated. A Postgres fleet may leave it to
    // `hotconf migrate` (HOTCONF_MIGRATE=0), e.g. as a deploy step before the gateways roll.
    if (config.migrate || database.driver === 'pglite') {
      await migrateOnceReachable(database, logger);
    } else {
      logger.info({ driver: database.driver }, 'migrations skipped (HOTCONF_MIGRATE=0)');
    }
    const validate = createValidator({ maxValueBytes: config.maxValueBytes, maxBatchSize: config.maxBatchSize });
    const secretBox = config.secretKeys.length > 0 ? createSecretBox(config.secretKeys) : null;
    const metrics = createMetrics();
    const store = countStoreCalls(createConfigStore({ database, validator: validate, secretBox }), (method) => metrics.storeCalls.inc({ method }));
    // Every Redis connection (bus publisher and subscriber, rate limiter) comes from one factory:
    // one URL, the same credentials and TLS, standalone or Cluster, trouble logged once per cause.
    const redis = config.redisUrl ? createRedisClientFactory({ redisUrl: config.redisUrl, cluster: config.redisCluster, logger }) : null;
    const bus: ChangeBus = redis ? createRedisBus({ redis, channelPrefix: config.channelPrefix, logger }) : createMemoryBus();
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
      tracer,
    });
    disposers.push(() => feed.close());
    // Reads from memory where provably current (DESIGN.md "Propagation" 5); writes and everything
    // else go to the store itself.
    const cache = createWatchCache({ store, feed, validate, logger, onRead: (source) => metrics.reads.inc({ source }) });
    disposers.push(() => cache.close());
    const reads: ConfigStore = { ...store, get: cache.get, snapshot: cache.snapshot };
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
      tracer,
    });
    const reports = createClientReportStore(database.db);
    const convergence = createConvergence({
      store,
      reports,
      timeoutS: config.convergenceTimeoutS,
      retentionH: config.clientRetentionH,
    });

    // The commands connection: the mutation rate limit (per subject, across every gateway sharing
    // this Redis) and the persisted-query store. Auto-pipelining makes a mutation's eight window
    // counters one round trip.
    let commandsRedis: RedisClient | null = null;
    if (redis) {
      const client = redis.create('commands', { commandTimeoutMs: 2_000, autoPipelining: true });
      commandsRedis = client;
      disposers.push(() => void client.disconnect());
    }

    // One count per gateway, shared by graphql-ws and SSE subscriptions.
    const subscriptionLimiter = createSubscriptionLimiter({
      perConnection: config.maxSubscriptionsPerConnection,
      perSubject: config.maxSubscriptionsPerSubject,
    });
    // SSE subscribers under one share key get one execution (graphql-ws shares in its endpoint).
    const sharedSse = createSharedSubscriptions({ shareable: shareableSubscription });
    disposers.push(() => sharedSse.close());
    const yoga = createGatewayYoga({
      schema: createGatewaySchema(),
      services: { store: reads, service, feed, convergence, logger, validate },
      authenticate: (authorization) => auth.authenticate(authorization),
      guardFor: (principal) => createGuard(principal, { required: auth.required }),
      logger,
      graphiql: config.development,
      tracer,
      plugins: [
        usePersistedQueries({ redis: commandsRedis, keyPrefix: config.channelPrefix, logger }),
        useMetrics(metrics),
        useOperationLimits({ publicIntrospection: config.publicIntrospection }),
        useRateLimit({
          perMinute: config.rateLimitPerMin,
          redis: commandsRedis,
          channelPrefix: config.channelPrefix,
          logger,
          onRedisError: (error) => redis?.reportCommandError(error),
        }),
        useSubscriptionLimits({ limiter: subscriptionLimiter }),
        sharedSse.plugin,
      ],
    });

    const health = createHealthHandlers({ store, bus, feed, metrics, version: VERSION, startedAt: new Date() });
    const ofrep = createOfrepHandler({
      store: reads,
      authenticate: (authorization) => auth.authenticate(authorization),
      guardFor: (principal) => createGuard(principal, { required: auth.required }),
      validate,
      logger,
    });
    const serveMetrics = createMetricsEndpoint(metrics);
    const ops = async (req: IncomingMessage, res: ServerResponse) =>
      (await health.handleOpsRequest(req, res)) || (await serveMetrics(req, res)) || (await ofrep(req, res));
    const server = createHttpServer({ yoga, ops, maxBodyBytes: config.maxBodyBytes, logger });
    const websocket = attachWebSocket({
      server,
      yoga,
      path: '/graphql',
      maxMessageBytes: config.maxBodyBytes,
      subscriptionLimiter,
      shareable: shareableSubscription,
      onConnect: (ctx) => authenticateConnection(auth, ctx.connectionParams, (code, reason) => ctx.extra.socket.close(code, reason)),
    });
    connectMetricsSources(metrics, { store, bus, feed, convergence, websocket });

    // History retention and forgotten clients: hourly, and once shortly after start.
    const housekeeping = async () => {
      try {
        const removed = await store.compact(new Date(Date.now() - config.historyRetentionDays * 24 * HOUR_MS));
        const forgotten = await convergence.prune();
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

/** Longest pause between two attempts to reach the database for migrations at start. */
const MIGRATION_RETRY_MAX_MS = 5_000; // 5 s

/**
 * Applies migrations, waiting for a database that is not reachable yet (starting up, restarting,
 * failing over: the gateway and its database often start together) instead of ending the
 * process. A database that refuses for good (a missing database or role, a wrong password:
 * SQLSTATE classes 3D and 28) or any other failure ends the start at once.
 */
async function migrateOnceReachable(database: Database, logger: Logger): Promise<void> {
  let pauseMs = 250;
  let reported = '';
  for (;;) {
    try {
      await database.migrate({ onProgress: (message) => logger.info({ driver: database.driver }, message) });
      return;
    } catch (error) {
      if (!isUnavailableError(error) || hasErrorCode(error, (code) => /^(28|3D)/.test(code))) throw error;
      // Each distinct cause once, not once per attempt.
      const cause = (error as Error).message;
      if (cause !== reported) logger.warn({ err: error }, 'database not reachable; migrations wait for it');
      reported = cause;
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      pauseMs = Math.min(MIGRATION_RETRY_MAX_MS, pauseMs * 2);
    }
  }
}
