import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/net.js';
import {
  gql,
  setConfig,
  startGateway,
  subscribeSse,
  subscribeWs,
  testToken,
  uniqueNamespace,
  wsClient,
  type Gateway,
  type Subscriber,
} from '../helpers/gateway.js';

describe('propagation across three gateway processes on one database and one Redis', () => {
  let database: TestDatabase;
  let gateways: Gateway[] = [];
  let token: string;
  const clients: Client[] = [];
  const subscribers: Subscriber[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('propagation');
    const env = { DATABASE_URL: database.url, REDIS_URL: SHARED_REDIS_URL, HOTCONF_CHANNEL_PREFIX: uniquePrefix('prop') };
    // The first one migrates; the other two start in parallel on the migrated database.
    const first = await startGateway({ env });
    gateways = [first, ...(await Promise.all([startGateway({ env }), startGateway({ env })]))];
    token = await testToken({ sub: 'prop-admin' });
  });

  afterAll(async () => {
    await Promise.allSettled(subscribers.map((subscriber) => subscriber.close()));
    await Promise.allSettled(clients.map((client) => client.dispose()));
    await Promise.allSettled(gateways.map((gateway) => gateway.stop()));
    await database?.drop();
  });

  const revisionOf = async (namespace: string) =>
    (await gql<{ configs: { revision: number } }>(gateways[0]!.url, token, 'query($ns: String!) { configs(namespace: $ns) { revision } }', { ns: namespace })).configs
      .revision;

  it('a mutation on A reaches graphql-ws and SSE subscribers on B and C, in order, once', async () => {
    const [a, b, c] = gateways as [Gateway, Gateway, Gateway];
    const namespace = uniqueNamespace('prop');
    await setConfig(a.url, token, namespace, 'seed', 0);
    const since = await revisionOf(namespace);

    const wsB = wsClient(b.wsUrl, token);
    const wsC = wsClient(c.wsUrl, token);
    clients.push(wsB, wsC);
    const watchers = [
      await subscribeWs(wsB, { namespace, sinceRevision: since }),
      await subscribeWs(wsC, { namespace, sinceRevision: since }),
      await subscribeSse(b.url, token, { namespace, sinceRevision: since }),
      await subscribeSse(c.url, token, { namespace, sinceRevision: since }),
    ];
    subscribers.push(...watchers);

    const written: number[] = [];
    for (let i = 1; i <= 20; i++) written.push(await setConfig(a.url, token, namespace, `k${i % 3}`, i));
    for (const watcher of watchers) await watcher.waitForCount(20);
    for (const watcher of watchers) {
      expect(watcher.errors).toEqual([]);
      expect(watcher.changes.map((change) => change.revision)).toEqual(written);
      expect(watcher.changes.map((change) => change.value)).toEqual(written.map((_, i) => i + 1));
    }
  });

  it('a live subscriber without sinceRevision on B gets a change made on A within milliseconds', async () => {
    const [a, b] = gateways as [Gateway, Gateway];
    const namespace = uniqueNamespace('live');
    const client = wsClient(b.wsUrl, token);
    clients.push(client);
    const watcher = await subscribeWs(client, { namespace });
    subscribers.push(watcher);
    // The subscription is active once B reports the namespace as watched.
    await waitFor(async () => {
      const ready = (await (await fetch(`http://127.0.0.1:${b.port}/ready`)).json()) as { namespaces?: Record<string, unknown> };
      return ready.namespaces?.[namespace] !== undefined;
    }, 10_000, 'B watching the namespace');
    const started = performance.now();
    const revision = await setConfig(a.url, token, namespace, 'ai.threshold', 0.85);
    await watcher.waitForCount(1);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(watcher.changes).toEqual([{ key: 'ai.threshold', op: 'SET', version: 1, revision, value: 0.85, replayed: false }]);
  });

  it('keys and prefix filters are respected, as a union', async () => {
    const [a, b, c] = gateways as [Gateway, Gateway, Gateway];
    const namespace = uniqueNamespace('filter');
    await setConfig(a.url, token, namespace, 'seed', 0);
    const since = await revisionOf(namespace);
    const client = wsClient(b.wsUrl, token);
    clients.push(client);
    const byKeys = await subscribeWs(client, { namespace, keys: ['db.url', 'ai.threshold'], sinceRevision: since });
    const byPrefix = await subscribeSse(c.url, token, { namespace, prefix: 'feature.', sinceRevision: since });
    const both = await subscribeWs(client, { namespace, keys: ['db.url'], prefix: 'feature.', sinceRevision: since });
    subscribers.push(byKeys, byPrefix, both);

    const writes = ['db.url', 'feature.x', 'other', 'ai.threshold', 'feature.y', 'db.urlx', 'featurez'];
    for (const [i, key] of writes.entries()) await setConfig(a.url, token, namespace, key, i);
    // A final marker every subscription matches tells us everything before it was delivered.
    await setConfig(a.url, token, namespace, 'db.url', 'end');
    await byKeys.waitForCount(3);
    await byPrefix.waitForCount(2);
    await both.waitForCount(4);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(byKeys.changes.map((change) => change.key)).toEqual(['db.url', 'ai.threshold', 'db.url']);
    expect(byPrefix.changes.map((change) => change.key)).toEqual(['feature.x', 'feature.y']);
    expect(both.changes.map((change) => change.key)).toEqual(['db.url', 'feature.x', 'feature.y', 'db.url']);
  });

  it('a gateway shutting down closes its WebSockets with 1001 (Going Away) so clients reconnect elsewhere', async () => {
    const leaving = await startGateway({
      env: { DATABASE_URL: database.url, REDIS_URL: SHARED_REDIS_URL, HOTCONF_CHANNEL_PREFIX: uniquePrefix('leave') },
    });
    try {
      const socket = new WebSocket(leaving.wsUrl, 'graphql-transport-ws');
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
        socket.once('message', () => resolve());
      });
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { configChanged(namespace: "leave") { key } }' } }));
      await leaving.stop('SIGTERM');
      expect(await closed).toBe(1001);
    } finally {
      await leaving.stop('SIGKILL');
    }
  });
});
