import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/net.js';
import { setConfig, startGateway, subscribeSse, subscribeWs, uniqueNamespace, type Gateway } from '../helpers/gateway.js';

describe('propagation across three gateway processes on one database and one Redis', () => {
  let cluster: Cluster;
  let gateways: Gateway[] = [];
  let token: string;

  beforeAll(async () => {
    cluster = await startCluster('prop', 3);
    ({ gateways, token } = cluster);
  });

  afterAll(() => cluster?.close());

  const revisionOf = (namespace: string) => cluster.revisionOf(namespace);

  it('a mutation on A reaches graphql-ws and SSE subscribers on B and C, in order, once', async () => {
    const [a, b, c] = gateways as [Gateway, Gateway, Gateway];
    const namespace = uniqueNamespace('prop');
    await setConfig(a.url, token, namespace, 'seed', 0);
    const since = await revisionOf(namespace);

    const wsB = cluster.client(b);
    const wsC = cluster.client(c);
    const watchers = [
      await subscribeWs(wsB, { namespace, sinceRevision: since }),
      await subscribeWs(wsC, { namespace, sinceRevision: since }),
      await subscribeSse(b.url, token, { namespace, sinceRevision: since }),
      await subscribeSse(c.url, token, { namespace, sinceRevision: since }),
    ];
    for (const watcher of watchers) cluster.keep(watcher);

    const written: number[] = [];
    for (let i = 1; i <= 20; i++) written.push(await setConfig(a.url, token, namespace, `k${i % 3}`, i));
    for (const watcher of watchers) await watcher.waitForCount(20);
    for (const watcher of watchers) {
      expect(watcher.errors).toEqual([]);
      expect(watcher.changes.map((change) => change.revision)).toEqual(written);
      expect(watcher.changes.map((change) => change.value)).toEqual(written.map((_, i) => i + 1));
    }
  });

  it('a live subscriber without sinceRevision on B gets a change made on A from the live stream', async () => {
    const [a, b] = gateways as [Gateway, Gateway];
    const namespace = uniqueNamespace('live');
    const watcher = cluster.keep(await subscribeWs(cluster.client(b), { namespace }));
    // The subscription is active once B reports the namespace as watched.
    await waitFor(async () => {
      const ready = (await (await fetch(`http://127.0.0.1:${b.port}/ready`)).json()) as { namespaces?: Record<string, unknown> };
      return ready.namespaces?.[namespace] !== undefined;
    }, 10_000, 'B watching the namespace');
    const started = performance.now();
    const revision = await setConfig(a.url, token, namespace, 'ai.threshold', 0.85);
    await watcher.waitForCount(1);
    // Speed is bench/propagation.ts's business; here: delivered live (replayed: false), not by a repair.
    console.info(`A's mutation → B's subscriber: ${(performance.now() - started).toFixed(1)} ms`);
    expect(watcher.changes).toEqual([{ key: 'ai.threshold', op: 'SET', version: 1, revision, value: 0.85, replayed: false }]);
  });

  it('keys and prefix filters are respected, as a union', async () => {
    const [a, b, c] = gateways as [Gateway, Gateway, Gateway];
    const namespace = uniqueNamespace('filter');
    await setConfig(a.url, token, namespace, 'seed', 0);
    const since = await revisionOf(namespace);
    const client = cluster.client(b);
    const byKeys = await subscribeWs(client, { namespace, keys: ['db.url', 'ai.threshold'], sinceRevision: since });
    const byPrefix = await subscribeSse(c.url, token, { namespace, prefix: 'feature.', sinceRevision: since });
    const both = await subscribeWs(client, { namespace, keys: ['db.url'], prefix: 'feature.', sinceRevision: since });
    cluster.keep(byKeys, byPrefix, both);

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
      env: { DATABASE_URL: cluster.database.url, REDIS_URL: SHARED_REDIS_URL, HOTCONF_CHANNEL_PREFIX: uniquePrefix('leave') },
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
