/**
 * Redis Cluster as gateways meet it in production. A node lost under running gateways: a 3-master cluster (no replicas) with a
 * password loses the master that holds a gateway's pub/sub connection. No gateway ends, writes
 * are answered, and every change still reaches a subscriber once, in order, through the periodic
 * check (the Redis-down promise holds for a cluster as for a single Redis). And a cluster reached
 * as an ACL user rather than with `requirepass` alone.
 */
import { Redis } from 'ioredis';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { tmpdir } from 'node:os';
import { SHARED_REDIS_URL, startRedisCluster, uniquePrefix, type RedisCluster } from '../helpers/redis.js';
import { waitFor } from '../helpers/net.js';
import { startGateway, subscribeWs, testToken, uniqueNamespace, wsClient, type Gateway } from '../helpers/gateway.js';
import { attemptSet } from '../helpers/writer.js';

/** Ports of the nodes that hold a connection named `name`. */
async function nodesWith(cluster: RedisCluster, name: string): Promise<number[]> {
  const found: number[] = [];
  for (const node of cluster.nodes.filter((candidate) => candidate.running)) {
    const admin: Redis = cluster.nodeClient(node.port);
    try {
      if (String(await admin.call('CLIENT', 'LIST')).includes(`name=${name} `)) found.push(node.port);
    } finally {
      admin.disconnect();
    }
  }
  return found;
}

describe('a Redis Cluster master lost under running gateways', () => {
  let cluster: RedisCluster;
  let database: TestDatabase;
  let a: Gateway;
  let b: Gateway;
  let token: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    [cluster, database] = await Promise.all([startRedisCluster(), createTestDatabase('rcluster_fault')]);
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: cluster.url,
      HOTCONF_REDIS_CLUSTER: '1',
      HOTCONF_CHANNEL_PREFIX: uniquePrefix('rcfault'),
      HOTCONF_REPAIR_INTERVAL_MS: '500',
    };
    a = await startGateway({ env });
    b = await startGateway({ env });
    token = await testToken({ sub: 'cluster-fault-writer' });
  });

  afterAll(async () => {
    for (const gateway of [a, b]) if (gateway && !gateway.running) console.error(`gateway on ${gateway.port} exited:\n${gateway.logs()}`);
    await Promise.allSettled(clients.map((client) => client.dispose()));
    await Promise.allSettled([a, b].filter(Boolean).map((gateway) => gateway.stop('SIGKILL')));
    await cluster?.stop();
    await database?.drop();
  });

  it('writes are answered and a subscriber on B gets every change once, in order, after the master holding the pub/sub connections is killed', async () => {
    const namespace = uniqueNamespace('rcfault');
    const client = wsClient(b.wsUrl, token);
    clients.push(client);
    const subscriber = await subscribeWs(client, { namespace, sinceRevision: 0 });
    expect((await attemptSet(a.url, token, namespace, 'k', 0)).code).toBe('OK');
    await subscriber.waitForCount(1);

    const [victim] = await nodesWith(cluster, 'hotconf-sub');
    expect(victim).toBeDefined();
    await cluster.nodes.find((node) => node.port === victim)!.stop();

    const codes: string[] = [];
    for (let value = 1; value <= 6; value++) codes.push((await attemptSet(a.url, token, namespace, 'k', value)).code);
    expect(codes).toEqual(Array(6).fill('OK'));
    await subscriber.waitForCount(7, 30_000);
    expect(subscriber.errors).toEqual([]);
    expect(subscriber.changes.map((change) => [change.revision, change.value])).toEqual([0, 1, 2, 3, 4, 5, 6].map((value) => [value + 1, value]));
    expect([a.running, b.running]).toEqual([true, true]);
  }, 180_000);
});

describe('a Redis Cluster reached as an ACL user (no TLS)', () => {
  let cluster: RedisCluster;
  let database: TestDatabase;
  const gateways: Gateway[] = [];
  const clients: Client[] = [];

  beforeAll(async () => {
    [cluster, database] = await Promise.all([startRedisCluster(), createTestDatabase('rcluster_acl')]);
    // A user of its own (not `default`) on every node, with a password that needs percent-encoding.
    for (const node of cluster.nodes) {
      const admin = cluster.nodeClient(node.port);
      try {
        await admin.call('ACL', 'SETUSER', 'hotconf-gw', 'on', '>gw p@ss/word', '~*', '&*', '+@all');
      } finally {
        admin.disconnect();
      }
    }
  });

  afterAll(async () => {
    for (const gateway of gateways) if (!gateway.running) console.error(`gateway on ${gateway.port} exited:\n${gateway.logs()}`);
    await Promise.allSettled(clients.map((client) => client.dispose()));
    await Promise.allSettled(gateways.map((gateway) => gateway.stop('SIGKILL')));
    await cluster?.stop();
    await database?.drop();
  });

  it('every connection logs in as the URL user, and a change on A reaches B live', async () => {
    const seed = new URL(cluster.url);
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: `redis://hotconf-gw:${encodeURIComponent('gw p@ss/word')}@${seed.host}`,
      HOTCONF_REDIS_CLUSTER: '1',
      HOTCONF_CHANNEL_PREFIX: uniquePrefix('rcacl'),
      HOTCONF_REPAIR_INTERVAL_MS: '600000',
    };
    gateways.push(await startGateway({ env }), await startGateway({ env }));
    const [a, b] = gateways as [Gateway, Gateway];
    const token = await testToken({ sub: 'cluster-acl-writer' });
    const namespace = uniqueNamespace('rcacl');
    const client = wsClient(b.wsUrl, token);
    clients.push(client);
    const subscriber = await subscribeWs(client, { namespace });
    await waitFor(
      async () => ((await (await fetch(`http://127.0.0.1:${b.port}/ready`)).json()) as { namespaces: Record<string, unknown> }).namespaces[namespace] !== undefined,
      15_000,
      'B watching the namespace',
    );
    expect((await attemptSet(a.url, token, namespace, 'k', 'v')).code).toBe('OK');
    await subscriber.waitForCount(1);
    expect(subscriber.changes.map((change) => [change.key, change.value, change.replayed])).toEqual([['k', 'v', false]]);
    const users = new Set<string>();
    for (const node of cluster.nodes) {
      const admin = cluster.nodeClient(node.port);
      try {
        for (const line of String(await admin.call('CLIENT', 'LIST')).trim().split('\n')) {
          if (/\bname=hotconf-/.test(line)) users.add(/\buser=(\S*)/.exec(line)?.[1] ?? '');
        }
      } finally {
        admin.disconnect();
      }
    }
    expect([...users]).toEqual(['hotconf-gw']);
  }, 120_000);
});

describe('HOTCONF_REDIS_CLUSTER not matching what REDIS_URL names', () => {
  const gateways: Gateway[] = [];
  let cluster: RedisCluster | undefined;
  afterAll(async () => {
    await Promise.allSettled(gateways.map((gateway) => gateway.stop('SIGKILL')));
    await cluster?.stop();
  });

  /** The gateway's log lines (JSON) of kind `cluster`. */
  const clusterLines = (gateway: Gateway) =>
    gateway
      .logs()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; kind?: string; msg: string })
      .filter((line) => line.kind === 'cluster');

  it('a Redis Cluster node without HOTCONF_REDIS_CLUSTER=1 is reported as an error that says what to set, once', async () => {
    cluster = await startRedisCluster();
    const gateway = await startGateway({ env: { REDIS_URL: cluster.url, HOTCONF_RATE_LIMIT_PER_MIN: '600', HOTCONF_CHANNEL_PREFIX: uniquePrefix('noflag'), HOTCONF_DATA_DIR: `${tmpdir()}/hotconf-noflag-${process.pid}-${Date.now()}` } });
    gateways.push(gateway);
    const token = await testToken({ sub: 'noflag-writer' });
    const namespace = uniqueNamespace('noflag');
    // Writes still work (the rate limit falls back to this gateway's own count).
    for (let i = 0; i < 3; i++) expect((await attemptSet(gateway.url, token, namespace, `k${i}`, i)).code).toBe('OK');
    await waitFor(() => clusterLines(gateway).length > 0, 15_000, 'the mismatch reported').catch((error: unknown) => {
      console.error(gateway.logs());
      throw error;
    });
    expect(clusterLines(gateway)).toEqual([expect.objectContaining({ level: 50, msg: expect.stringContaining('HOTCONF_REDIS_CLUSTER=1') })]);
  }, 120_000);

  it('HOTCONF_REDIS_CLUSTER=1 with a standalone Redis is reported the same way', async () => {
    const gateway = await startGateway({
      env: { REDIS_URL: SHARED_REDIS_URL, HOTCONF_REDIS_CLUSTER: '1', HOTCONF_CHANNEL_PREFIX: uniquePrefix('flag'), HOTCONF_DATA_DIR: `${tmpdir()}/hotconf-flag-${process.pid}-${Date.now()}` },
      readiness: 'health',
    });
    gateways.push(gateway);
    await waitFor(() => clusterLines(gateway).length > 0, 15_000, 'the mismatch reported');
    expect(clusterLines(gateway)[0]).toMatchObject({ level: 50, msg: expect.stringContaining('a standalone Redis needs it unset') });
  }, 120_000);
});

