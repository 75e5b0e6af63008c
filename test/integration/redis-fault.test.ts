import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startPrivateRedis, uniquePrefix, type PrivateRedis } from '../helpers/redis.js';
import {
  gql,
  setConfig,
  startGateway,
  subscribeWs,
  testToken,
  uniqueNamespace,
  wsClient,
  type Gateway,
  type Subscriber,
} from '../helpers/gateway.js';

const revisionQuery = 'query($ns: String!) { configs(namespace: $ns) { revision } }';

describe('Redis faults: every change still reaches every subscriber, in order, once', () => {
  let database: TestDatabase;
  let redis: PrivateRedis;
  let token: string;
  /** Repair only through the reconnect (periodic check effectively off). */
  let slowA: Gateway;
  let slowB: Gateway;
  /** Periodic check every 300 ms. */
  let fastA: Gateway;
  let fastB: Gateway;
  const clients: Client[] = [];
  const subscribers: Subscriber[] = [];
  let prefix: string;

  beforeAll(async () => {
    database = await createTestDatabase('redis_fault');
    redis = await startPrivateRedis();
    prefix = uniquePrefix('fault');
    const base = { DATABASE_URL: database.url, REDIS_URL: redis.url, HOTCONF_CHANNEL_PREFIX: prefix };
    slowA = await startGateway({ env: { ...base, HOTCONF_REPAIR_INTERVAL_MS: '600000' } });
    [slowB, fastA, fastB] = await Promise.all([
      startGateway({ env: { ...base, HOTCONF_REPAIR_INTERVAL_MS: '600000' } }),
      startGateway({ env: { ...base, HOTCONF_REPAIR_INTERVAL_MS: '300' } }),
      startGateway({ env: { ...base, HOTCONF_REPAIR_INTERVAL_MS: '300' } }),
    ]);
    token = await testToken({ sub: 'fault-admin' });
  });

  afterAll(async () => {
    for (const gateway of [slowA, slowB, fastA, fastB]) {
      // A gateway that died mid-test explains the failure better than any assertion.
      if (gateway && !gateway.running) console.error(`gateway on ${gateway.port} exited:\n${gateway.logs()}`);
    }
    await Promise.allSettled(subscribers.map((subscriber) => subscriber.close()));
    await Promise.allSettled(clients.map((client) => client.dispose()));
    await Promise.allSettled([slowA, slowB, fastA, fastB].filter(Boolean).map((gateway) => gateway.stop('SIGKILL')));
    await redis?.stop();
    await database?.drop();
  });

  const watch = async (gateway: Gateway, namespace: string) => {
    const { configs } = await gql<{ configs: { revision: number } }>(gateway.url, token, revisionQuery, { ns: namespace });
    const client = wsClient(gateway.wsUrl, token);
    clients.push(client);
    const subscriber = await subscribeWs(client, { namespace, sinceRevision: configs.revision });
    subscribers.push(subscriber);
    return subscriber;
  };

  /** A write that must be answered even with Redis gone (publishing never holds the answer). */
  const timedSet = async (gateway: Gateway, namespace: string, key: string, value: unknown) => {
    const started = performance.now();
    const revision = await setConfig(gateway.url, token, namespace, key, value);
    return { revision, ms: performance.now() - started };
  };

  it('changes committed while Redis is stopped arrive after it restarts, through the reconnect repair', async () => {
    const namespace = uniqueNamespace('restart');
    await setConfig(slowA.url, token, namespace, 'seed', 0);
    const onB = await watch(slowB, namespace);
    const onA = await watch(slowA, namespace);
    const before = await timedSet(slowA, namespace, 'before', 1);
    await onB.waitForCount(1);

    await redis.stop();
    const during: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { revision, ms } = await timedSet(slowA, namespace, `during.${i}`, i);
      console.info(`write ${i} with Redis stopped answered in ${ms.toFixed(0)} ms`);
      during.push(revision);
    }
    // Nothing reaches B while Redis is down and the periodic check is off.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(onB.changes).toHaveLength(1);
    await redis.start();

    const after = await timedSet(slowA, namespace, 'after', 2);
    const expected = [before.revision, ...during, after.revision];
    await onB.waitForCount(expected.length, 20_000);
    await onA.waitForCount(expected.length, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const subscriber of [onA, onB]) {
      expect(subscriber.errors).toEqual([]);
      expect(subscriber.changes.map((change) => change.revision)).toEqual(expected);
    }
  });

  it('with Redis down longer than the repair interval, changes still arrive through the periodic repair', async () => {
    const namespace = uniqueNamespace('down');
    await setConfig(fastA.url, token, namespace, 'seed', 0);
    const onB = await watch(fastB, namespace);
    await redis.stop();
    try {
      const written: number[] = [];
      for (let i = 0; i < 3; i++) written.push((await timedSet(fastA, namespace, `k${i}`, i)).revision);
      // Redis stays down until `finally`: only the periodic repair can deliver these.
      await onB.waitForCount(3, 10_000);
      expect(onB.changes.map((change) => change.revision)).toEqual(written);
      expect(onB.changes.every((change) => change.replayed)).toBe(true);
    } finally {
      await redis.start();
    }
    const last = await timedSet(fastA, namespace, 'back', true);
    await onB.waitForCount(4, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(onB.changes.map((change) => change.revision)).toEqual([...new Set(onB.changes.map((change) => change.revision))]);
    expect(onB.changes.at(-1)?.revision).toBe(last.revision);
    expect(onB.changes).toHaveLength(4);
  });

  it('with Redis hung (connections open, nothing answers), changes arrive through the periodic repair, and the publishes Redis runs late on thaw are not delivered twice', async () => {
    const namespace = uniqueNamespace('hung');
    await setConfig(fastA.url, token, namespace, 'seed', 0);
    const onB = await watch(fastB, namespace);
    redis.freeze();
    const written: number[] = [];
    try {
      for (let i = 0; i < 4; i++) written.push((await timedSet(fastA, namespace, `k${i}`, i)).revision);
      await onB.waitForCount(4, 15_000);
    } finally {
      redis.thaw();
    }
    // The publishes sent while it was hung sit in Redis' socket buffer and run now, before this
    // one (same publisher connection): once it has arrived, any late copy would have, too.
    const marker = await timedSet(fastA, namespace, 'marker', true);
    await onB.waitForCount(5, 15_000);
    expect(onB.errors).toEqual([]);
    expect(onB.changes.map((change) => change.revision)).toEqual([...written, marker.revision]);
  });

  it('a publish lost on purpose (writer on a mistyped channel prefix) is repaired by the periodic check', async () => {
    const namespace = uniqueNamespace('lost');
    const typo = await startGateway({
      env: { DATABASE_URL: database.url, REDIS_URL: redis.url, HOTCONF_CHANNEL_PREFIX: `${prefix}typo:`, HOTCONF_REPAIR_INTERVAL_MS: '300' },
    });
    try {
      await setConfig(fastA.url, token, namespace, 'seed', 0);
      const onB = await watch(fastB, namespace);
      const lost = await timedSet(typo, namespace, 'lost', 'published where nobody listens');
      await onB.waitForCount(1, 10_000);
      expect(onB.changes[0]).toMatchObject({ revision: lost.revision, key: 'lost', replayed: true });
      // The next live change comes on the stream as usual, without a duplicate.
      const live = await timedSet(fastA, namespace, 'live', 1);
      await onB.waitForCount(2, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(onB.changes.map((change) => change.revision)).toEqual([lost.revision, live.revision]);
    } finally {
      await typo.stop('SIGKILL');
    }
  });
});
