import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Cluster } from 'ioredis';
import type { ChangeBus, ChangeMessage } from '../core/types.js';
import type { Logger } from '../logger.js';
import { createRedisClientFactory, type RedisClient, type RedisClientFactory } from './redis-client.js';

/** The one private field of RedisPubSub the bus has to reach (see `subscribe`). */
interface PubSubInternals {
  subsPendingRefsMap?: Map<string, { pending?: { catch?: (handler: () => void) => unknown } }>;
}

/** Options of the Redis bus. */
export interface RedisBusOptions {
  /**
   * Where the bus's two connections come from (the gateway's one factory, so they carry the same
   * credentials and TLS as every other). Without it, one is made from `redisUrl` and `cluster`.
   */
  redis?: RedisClientFactory;
  /** `redis://` or `rediss://` URL, used only when neither `redis` nor both clients are given. */
  redisUrl?: string;
  /** Prefix of every channel: a namespace's channel is `<channelPrefix><namespace>`. @default 'hotconf:' */
  channelPrefix?: string;
  /** With `redisUrl`: connect as Redis Cluster (seed node = `redisUrl`). @default false */
  cluster?: boolean;
  /** A publisher connection of the caller's; the bus does not close it. */
  publisher?: RedisClient;
  /** A subscriber connection of the caller's; the bus does not close it. */
  subscriber?: RedisClient;
  /**
   * Publishes allowed in flight at once; beyond it a publish is dropped and counted, so an
   * outage can never grow memory (history repairs what is dropped). @default 10_000
   */
  maxPendingPublishes?: number;
  /** How long a publish may wait for Redis before it counts as failed. @default 1_000 (1 s) */
  publishTimeoutMs?: number;
  /**
   * How long `subscribe` waits for a connection that is not ready yet (start, reconnect) before
   * it rejects; the change feed then serves the namespace from history and retries.
   * @default 2_000 (2 s)
   */
  subscribeWaitMs?: number;
  logger?: Pick<Logger, 'error' | 'warn' | 'info' | 'debug'>;
}

/**
 * The bus between gateway instances: graphql-redis-subscriptions `RedisPubSub` over ioredis, one
 * publisher and one subscriber connection, one channel per namespace. `publish` never waits and
 * never throws; a reconnect of the subscriber is reported to `onReconnect` listeners once the
 * re-subscriptions are acknowledged, because messages sent while it was away are gone.
 *
 * Connection trouble (a refused password, an outage) is logged by the factory, once per cause.
 *
 * @example
 * const redis = createRedisClientFactory({ redisUrl: 'rediss://hotconf:pw@redis:6380', cluster: true, logger });
 * const bus = createRedisBus({ redis, channelPrefix: 'hotconf:', logger });
 */
export function createRedisBus({
  redis,
  redisUrl,
  channelPrefix = 'hotconf:',
  cluster = false,
  publisher: givenPublisher,
  subscriber: givenSubscriber,
  maxPendingPublishes = 10_000,
  publishTimeoutMs = 1_000, // 1 s
  subscribeWaitMs = 2_000, // 2 s
  logger,
}: RedisBusOptions): ChangeBus {
  const makeClient = (role: 'pub' | 'sub'): RedisClient => {
    let factory = redis;
    if (!factory) {
      if (!redisUrl) throw new Error('createRedisBus needs `redis`, `redisUrl`, or both clients');
      factory = redis = createRedisClientFactory({ redisUrl, cluster, logger });
    }
    // A publish after commit must never hang: bounded by its own timeout and one reconnection
    // attempt. The subscriber's commands (SUBSCRIBE, PING) get longer: they wait on a restart.
    return factory.create(role, { commandTimeoutMs: role === 'pub' ? publishTimeoutMs : 5_000, maxRetriesPerRequest: 1 });
  };
  const ownsClients = !givenPublisher || !givenSubscriber;
  const publisher = givenPublisher && givenSubscriber ? givenPublisher : makeClient('pub');
  const subscriber = givenPublisher && givenSubscriber ? givenSubscriber : makeClient('sub');
  const isCluster = subscriber instanceof Cluster;
  const pubsub = new RedisPubSub({ publisher, subscriber: guardUnsubscribe(subscriber) });

  const reconnectListeners = new Set<() => void>();
  let publishFailures = 0;
  let pending = 0;
  let lastMessageAt: number | null = null;
  let closed = false;
  let subscriberLost = false;
  let lastFailureLogAt = 0;

  // Connections made by the factory have their trouble logged there, once per cause; this only
  // keeps an 'error' event on a caller's client from ending the process.
  const onConnectionError = () => {};
  const onPublishFailed = (error: unknown) => {
    publishFailures++;
    // A refusal (NOPERM: the ACL lacks PUBLISH on the channel) is a setting to fix, not an outage.
    redis?.reportCommandError(error);
    // The cause (outage, refused login) is already logged; a failed publish is its consequence.
    const now = Date.now();
    if (now - lastFailureLogAt > 5_000) {
      lastFailureLogAt = now;
      logger?.debug({ err: error instanceof Error ? error.message : String(error), publishFailures }, 'redis publish failed; the periodic check delivers the change');
    }
  };
  const onSubscriberClose = () => {
    if (!closed) subscriberLost = true;
  };
  const onSubscriberReady = () => {
    if (!subscriberLost || closed) return;
    subscriberLost = false;
    logger?.info({}, 'redis subscriber reconnected');
    // ioredis emits 'ready' before it re-sends SUBSCRIBE; a PING queued behind those commands
    // answers once they are acknowledged, so repair starts with the channels live again.
    setImmediate(() => {
      let notified = false;
      const notify = () => {
        if (notified || closed) return;
        notified = true;
        clearTimeout(timer);
        for (const listener of [...reconnectListeners]) {
          try {
            listener();
          } catch {
            // A faulty listener must not keep the others from repairing.
          }
        }
      };
      const timer = setTimeout(notify, 500);
      // A cluster re-subscribes on a subscriber connection of its own that cannot be pinged
      // from here: the timer above stands in for the acknowledgement.
      if (!isCluster) subscriber.ping().then(notify, notify);
    });
  };

  publisher.on('error', onConnectionError);
  subscriber.on('error', onConnectionError);
  subscriber.on('close', onSubscriberClose);
  subscriber.on('ready', onSubscriberReady);

  return {
    publish(message: ChangeMessage) {
      if (closed || pending >= maxPendingPublishes) {
        publishFailures++;
        return;
      }
      pending++;
      let promise: Promise<void>;
      try {
        promise = pubsub.publish(channelPrefix + message.namespace, message);
      } catch (error) {
        pending--;
        onPublishFailed(error);
        return;
      }
      promise.then(
        () => {
          pending--;
        },
        (error: unknown) => {
          pending--;
          onPublishFailed(error);
        },
      );
    },

    async subscribe(namespace, listener) {
      if (closed) throw new Error('bus is closed');
      const onMessage = (message: ChangeMessage) => {
        lastMessageAt = Date.now();
        // RedisPubSub hands over whatever did not parse as JSON; that is not ours to deliver.
        if (typeof message !== 'object' || message === null || typeof message.revision !== 'number') return;
        listener(message);
      };
      // Only SUBSCRIBE on a ready connection (see below); a starting one gets a moment.
      if (subscriber.status !== 'ready') await readyWithin(subscriber, subscribeWaitMs);
      const channel = channelPrefix + namespace;
      const subscribing = pubsub.subscribe(channel, onMessage);
      // RedisPubSub keeps a second promise for the same SUBSCRIBE and never handles its
      // rejection: a SUBSCRIBE failing during an outage would end the process.
      (pubsub as unknown as PubSubInternals).subsPendingRefsMap?.get(channel)?.pending?.catch?.(() => {});
      const id = await subscribing.catch((error: unknown) => {
        redis?.reportCommandError(error);
        throw error;
      });
      let subscribed = true;
      return async () => {
        if (!subscribed) return;
        subscribed = false;
        try {
          pubsub.unsubscribe(id);
        } catch {
          // Already gone (the bus was closed).
        }
      };
    },

    onReconnect(listener) {
      reconnectListeners.add(listener);
      return () => {
        reconnectListeners.delete(listener);
      };
    },

    status() {
      return {
        kind: 'redis',
        connected: publisher.status === 'ready' && subscriber.status === 'ready',
        publishFailures,
        lastMessageAt,
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      reconnectListeners.clear();
      subscriber.off('ready', onSubscriberReady);
      subscriber.off('close', onSubscriberClose);
      if (ownsClients) {
        await Promise.allSettled([publisher.quit(), subscriber.quit()]);
        publisher.disconnect();
        subscriber.disconnect();
      } else {
        await Promise.allSettled([subscriber.unsubscribe(), subscriber.punsubscribe()]);
      }
      publisher.off('error', onConnectionError);
      subscriber.off('error', onConnectionError);
    },
  };
}

/**
 * RedisPubSub sends UNSUBSCRIBE/PUNSUBSCRIBE without handling their promises; during an outage
 * they reject and would end the process as unhandled rejections. A namespace left while Redis is
 * down needs no UNSUBSCRIBE anyway: ioredis only re-subscribes what is still subscribed.
 */
function guardUnsubscribe(client: RedisClient): RedisClient {
  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (property === 'unsubscribe' || property === 'punsubscribe') {
        return (...args: unknown[]) => {
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (result instanceof Promise) result.catch(() => {});
          return result;
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

function readyWithin(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'end') return Promise.reject(new Error('redis connection is closed'));
  return new Promise((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error(`redis is not ready (${client.status}) after ${timeoutMs} ms`));
    }, timeoutMs);
    client.once('ready', onReady);
  });
}
