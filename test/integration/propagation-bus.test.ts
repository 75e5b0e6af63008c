import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeBus, ChangeMessage } from '../../src/core/types.js';
import { createMemoryBus } from '../../src/bus/memory-bus.js';
import { createRedisBus } from '../../src/bus/redis-bus.js';
import { waitFor } from '../helpers/net.js';
import { SHARED_REDIS_URL, startPrivateRedis, uniquePrefix, type PrivateRedis } from '../helpers/redis.js';

const message = (namespace: string, revision: number): ChangeMessage => ({
  namespace,
  revision,
  changes: [
    {
      key: 'ai.threshold',
      op: 'SET',
      version: revision,
      value: { threshold: 0.85, tags: ['a'] },
      valueOmitted: false,
      changedAt: new Date(1_700_000_000_000 + revision).toISOString(),
      changedBy: 'alice',
      reason: 'tune',
      traceId: 't1',
      secret: false,
    },
  ],
});

/** A publishing side and a subscribing side: two instances for Redis, one for the in-process bus. */
interface Pair {
  publisher: ChangeBus;
  subscriber: ChangeBus;
  close(): Promise<void>;
}

const implementations: Array<[string, () => Pair]> = [
  [
    'memory',
    () => {
      const bus = createMemoryBus();
      return { publisher: bus, subscriber: bus, close: () => bus.close() };
    },
  ],
  [
    'redis',
    () => {
      const channelPrefix = uniquePrefix('bus');
      const publisher = createRedisBus({ redisUrl: SHARED_REDIS_URL, channelPrefix });
      const subscriber = createRedisBus({ redisUrl: SHARED_REDIS_URL, channelPrefix });
      return { publisher, subscriber, close: async () => void (await Promise.all([publisher.close(), subscriber.close()])) };
    },
  ],
];

describe.each(implementations)('ChangeBus contract: %s', (_name, create) => {
  let pair: Pair;
  afterEach(async () => {
    await pair?.close();
  });

  it('a message published right after subscribe resolves is received, as JSON with ISO dates', async () => {
    pair = create();
    const received: ChangeMessage[] = [];
    await pair.subscriber.subscribe('ns-a', (m) => received.push(m));
    const sent = message('ns-a', 1);
    pair.publisher.publish(sent);
    await waitFor(() => received.length === 1, 5_000, 'the message');
    expect(received[0]).toEqual(sent);
    expect(typeof received[0]!.changes[0]!.changedAt).toBe('string');
    expect(pair.subscriber.status().lastMessageAt).not.toBeNull();
  });

  it('delivers per namespace, in publish order, and stops after unsubscribe', async () => {
    pair = create();
    const a: number[] = [];
    const b: number[] = [];
    const stopA = await pair.subscriber.subscribe('ns-a', (m) => a.push(m.revision));
    await pair.subscriber.subscribe('ns-b', (m) => b.push(m.revision));
    for (let revision = 1; revision <= 50; revision++) pair.publisher.publish(message(revision % 2 ? 'ns-a' : 'ns-b', revision));
    await waitFor(() => a.length === 25 && b.length === 25, 5_000, 'all messages');
    expect(a).toEqual(Array.from({ length: 25 }, (_, i) => 2 * i + 1));
    expect(b).toEqual(Array.from({ length: 25 }, (_, i) => 2 * i + 2));
    await stopA();
    pair.publisher.publish(message('ns-a', 99));
    pair.publisher.publish(message('ns-b', 100));
    await waitFor(() => b.length === 26, 5_000, 'the last message on ns-b');
    expect(a).toHaveLength(25);
  });

  it('publish never throws and never waits, even on a closed bus', async () => {
    pair = create();
    await pair.publisher.close();
    // Synchronous and void: there is nothing a caller could wait on.
    expect(pair.publisher.publish(message('ns-a', 1))).toBeUndefined();
  });
});

describe('Redis bus under a Redis outage', () => {
  let redis: PrivateRedis;
  const buses: ChangeBus[] = [];
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await Promise.allSettled(buses.map((bus) => bus.close()));
    await redis?.stop();
  });

  it('publishing while Redis is down returns at once, counts the failure, and a reconnect is reported', async () => {
    const channelPrefix = uniquePrefix('outage');
    const publisher = createRedisBus({ redisUrl: redis.url, channelPrefix });
    const subscriber = createRedisBus({ redisUrl: redis.url, channelPrefix });
    buses.push(publisher, subscriber);
    const received: number[] = [];
    await subscriber.subscribe('ns', (m) => received.push(m.revision));
    let reconnects = 0;
    subscriber.onReconnect(() => reconnects++);

    await redis.stop();
    await waitFor(() => !publisher.status().connected, 5_000, 'the publisher to notice');
    // Returns at once: each call is synchronous and void, so the loop cannot wait on Redis.
    for (let revision = 1; revision <= 20; revision++) expect(publisher.publish(message('ns', revision))).toBeUndefined();
    await waitFor(() => publisher.status().publishFailures === 20, 10_000, 'failures to be counted');

    await redis.start();
    await waitFor(() => reconnects === 1, 10_000, 'the reconnect');
    // Reported only once the subscription is live again: a message sent now arrives.
    publisher.publish(message('ns', 21));
    await waitFor(() => received.includes(21), 5_000, 'the message after the reconnect');
    expect(received).toEqual([21]);
  });
});
