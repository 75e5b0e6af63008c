/**
 * Managed Redis as deployments have it: a 3-master Redis Cluster with `requirepass` and TLS, and a
 * standalone Redis with an ACL user over TLS. Gateway processes get only `REDIS_URL` (and the CA
 * through NODE_EXTRA_CA_CERTS, as an operator would); every connection they open (publisher,
 * subscriber, rate limiter) must carry the URL's credentials and TLS.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import {
  createTestCertificates,
  startPrivateRedis,
  startRedisCluster,
  uniquePrefix,
  type PrivateRedis,
  type RedisCluster,
  type TestCertificates,
} from '../helpers/redis.js';
import { waitFor } from '../helpers/net.js';
import { SET_CONFIG, setConfig, startGateway, subscribeWs, testToken, uniqueNamespace, wsClient, type Gateway, type Subscriber } from '../helpers/gateway.js';
import { rateLimitBound } from '../../src/server/use-rate-limit.js';
import type { Client } from 'graphql-ws';

interface Ready {
  status: string;
  checks: { redis: { ok: boolean } };
  namespaces: Record<string, unknown>;
  repairs: { gap: number; reconnect: number; periodic: number };
}

async function ready(gateway: Gateway): Promise<{ status: number; body: Ready }> {
  const response = await fetch(`http://127.0.0.1:${gateway.port}/ready`);
  return { status: response.status, body: (await response.json()) as Ready };
}

async function metricLines(gateway: Gateway, name: string): Promise<string[]> {
  const text = await (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text();
  return text.split('\n').filter((line) => line.startsWith(name));
}

/** Connection names and users of everyone connected to this node. */
async function clientList(client: Redis): Promise<Array<{ name: string; user: string }>> {
  const text = String(await client.call('CLIENT', 'LIST'));
  return text
    .trim()
    .split('\n')
    .map((line) => ({ name: /\bname=(\S*)/.exec(line)?.[1] ?? '', user: /\buser=(\S*)/.exec(line)?.[1] ?? '' }));
}

const RATE = 20;

describe('a 3-master Redis Cluster with a password, over TLS', () => {
  let certs: TestCertificates;
  let cluster: RedisCluster;
  let database: TestDatabase;
  let prefix: string;
  let a: Gateway;
  let b: Gateway;
  let token: string;
  const clients: Client[] = [];
  const subscribers: Subscriber[] = [];
  const extra: Gateway[] = [];

  beforeAll(async () => {
    certs = await createTestCertificates();
    [cluster, database] = await Promise.all([startRedisCluster({ tls: certs }), createTestDatabase('rcluster')]);
    prefix = uniquePrefix('rcluster');
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: cluster.url,
      HOTCONF_REDIS_CLUSTER: '1',
      HOTCONF_CHANNEL_PREFIX: prefix,
      NODE_EXTRA_CA_CERTS: certs.caFile,
      // The periodic check is off: a change can only arrive live, over the cluster's pub/sub.
      HOTCONF_REPAIR_INTERVAL_MS: '600000',
      HOTCONF_RATE_LIMIT_PER_MIN: String(RATE),
    };
    a = await startGateway({ env });
    b = await startGateway({ env });
    token = await testToken({ sub: 'cluster-admin' });
  });

  afterAll(async () => {
    for (const gateway of [a, b, ...extra]) if (gateway && !gateway.running) console.error(`gateway on ${gateway.port} exited:\n${gateway.logs()}`);
    await Promise.allSettled(subscribers.map((subscriber) => subscriber.close()));
    await Promise.allSettled(clients.map((client) => client.dispose()));
    await Promise.allSettled([a, b, ...extra].filter(Boolean).map((gateway) => gateway.stop('SIGKILL')));
    await cluster?.stop();
    await database?.drop();
    await certs?.[Symbol.asyncDispose]();
  });

  it('both gateways are ready, each with its publisher, subscriber and rate-limit connections logged in', async () => {
    for (const gateway of [a, b]) {
      await waitFor(async () => (await ready(gateway)).status === 200, 30_000, `/ready 200 on ${gateway.port}:\n${gateway.logs()}`);
      expect((await ready(gateway)).body.checks.redis.ok).toBe(true);
    }
    // The two gateways' connections, all logged in with the cluster's password (a cluster client
    // opens node connections as it needs them, so they are counted over all nodes).
    const names: string[] = [];
    for (const node of cluster.nodes) {
      const admin = cluster.nodeClient(node.port);
      try {
        names.push(...(await clientList(admin)).map((client) => client.name));
      } finally {
        admin.disconnect();
      }
    }
    for (const name of ['hotconf-pub', 'hotconf-sub', 'hotconf-commands']) {
      expect(names.filter((connected) => connected === name).length, `${name} in ${names.join(',')}`).toBeGreaterThanOrEqual(2);
    }
  });

  it('a change made on A reaches a graphql-ws subscriber on B live, on channels served by three different masters', async () => {
    // Namespaces whose channels hash to slots on three different masters.
    const byMaster = new Map<number, string>();
    while (byMaster.size < cluster.nodes.length) {
      const namespace = uniqueNamespace('rc');
      const port = await cluster.masterPortOf(`${prefix}${namespace}`);
      if (!byMaster.has(port)) byMaster.set(port, namespace);
    }
    const namespaces = [...byMaster.values()];
    const client = wsClient(b.wsUrl, token);
    clients.push(client);
    const watchers = await Promise.all(namespaces.map((namespace) => subscribeWs(client, { namespace })));
    subscribers.push(...watchers);
    await waitFor(
      async () => {
        const { body } = await ready(b);
        return namespaces.every((namespace) => body.namespaces[namespace] !== undefined);
      },
      15_000,
      'B watching the three namespaces',
    );

    const revisions: number[] = [];
    for (const namespace of namespaces) revisions.push(await setConfig(a.url, token, namespace, 'feature.on', true));
    for (const [i, watcher] of watchers.entries()) {
      await watcher.waitForCount(1, 15_000);
      expect(watcher.errors).toEqual([]);
      expect(watcher.changes).toEqual([{ key: 'feature.on', op: 'SET', version: 1, revision: revisions[i], value: true, replayed: false }]);
    }
    // Delivered by pub/sub, not by any repair.
    expect((await ready(b)).body.repairs).toEqual({ gap: 0, reconnect: 0, periodic: 0 });
    const repairLines = await metricLines(b, 'hotconf_gap_repairs_total{');
    expect(repairLines.length).toBeGreaterThan(0);
    for (const line of repairLines) expect(line, line).toMatch(/ 0$/);
  });

  it(`the rate limit is shared through the cluster: a burst over both gateways gets at most ${rateLimitBound(RATE)} mutations`, async () => {
    const writer = await testToken({ sub: `cluster-burst-${Date.now()}`, role: 'writer', namespaces: ['burst'] });
    const attempts = Array.from({ length: RATE * 3 }, (_, i) =>
      fetch((i % 2 ? a : b).url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${writer}` },
        body: JSON.stringify({ query: SET_CONFIG, variables: { input: { namespace: 'burst', key: `k${i}`, value: i } } }),
      }).then(async (response) => ({ status: response.status, body: (await response.json()) as { errors?: Array<{ extensions?: { code?: string } }> } })),
    );
    const results = await Promise.all(attempts);
    const passed = results.filter((result) => result.status === 200 && !result.body.errors).length;
    const limited = results.filter((result) => result.status === 429 && result.body.errors?.[0]?.extensions?.code === 'RATE_LIMITED').length;
    // Counted alone, each gateway would let RATE through: 2 × RATE.
    expect(passed).toBeGreaterThan(0);
    expect(passed).toBeLessThanOrEqual(rateLimitBound(RATE));
    expect(passed + limited).toBe(results.length);
  });

  // Starts two gateways that Redis refuses and waits for dozens of refused attempts: generous on a loaded machine.
  it('a wrong password is logged once as an auth failure (WRONGPASS), a missing one as NOAUTH; /ready stays 503', { timeout: 240_000 }, async () => {
    const base = { DATABASE_URL: database.url, HOTCONF_REDIS_CLUSTER: '1', HOTCONF_CHANNEL_PREFIX: prefix, NODE_EXTRA_CA_CERTS: certs.caFile, HOTCONF_RATE_LIMIT_PER_MIN: '10' };
    const seed = cluster.nodeClient(cluster.nodes[0]!.port);
    const connections = async () => Number(/total_connections_received:(\d+)/.exec(String(await seed.info('stats')))?.[1]);
    try {
      const before = await connections();
      const [wrong, missing] = await Promise.all([
        startGateway({ env: { ...base, REDIS_URL: cluster.url.replace(encodeURIComponent(cluster.password), 'not-the-password') }, readiness: 'health' }),
        startGateway({ env: { ...base, REDIS_URL: cluster.url.replace(`:${encodeURIComponent(cluster.password)}@`, '') }, readiness: 'health' }),
      ]);
      extra.push(wrong, missing);
      // Both keep retrying: wait for many refused connection attempts, then count the log lines.
      await waitFor(async () => (await connections()) - before >= 40, 30_000, 'the refused gateways to retry');
      for (const [gateway, code] of [
        [wrong, 'WRONGPASS'],
        [missing, 'NOAUTH'],
      ] as const) {
        const { status, body } = await ready(gateway);
        expect(status).toBe(503);
        expect(body.checks.redis.ok).toBe(false);
        const lines = gateway.logs().split('\n').filter(Boolean);
        const refusals = lines.filter((line) => line.includes('redis refused the credentials'));
        expect(refusals, gateway.logs()).toHaveLength(1);
        expect(JSON.parse(refusals[0]!)).toMatchObject({ level: 50, kind: 'auth', cluster: true, tls: true });
        expect(refusals[0]).toContain(code);
        expect(gateway.logs()).not.toContain('Failed to refresh slots cache');
        expect(gateway.logs()).not.toContain('not-the-password');
      }
    } finally {
      seed.disconnect();
    }
  });
});

describe('a standalone Redis with an ACL user, over TLS', () => {
  let certs: TestCertificates;
  let redis: PrivateRedis;
  let database: TestDatabase;
  let gateway: Gateway;
  const user = { name: 'hotconf', password: 'p@ss:w/rd%' };

  beforeAll(async () => {
    certs = await createTestCertificates();
    [redis, database] = await Promise.all([startPrivateRedis({ user, tls: certs }), createTestDatabase('rtls')]);
    gateway = await startGateway({
      env: {
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        HOTCONF_CHANNEL_PREFIX: uniquePrefix('rtls'),
        NODE_EXTRA_CA_CERTS: certs.caFile,
        HOTCONF_RATE_LIMIT_PER_MIN: '100',
      },
    });
  });

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await redis?.stop();
    await database?.drop();
    await certs?.[Symbol.asyncDispose]();
  });

  it('publisher, subscriber and rate limiter all connect as the URL user (percent-encoded password) over TLS', async () => {
    expect(redis.url).toMatch(/^rediss:\/\/hotconf:p%40ss%3Aw%2Frd%25@/);
    await waitFor(async () => (await ready(gateway)).status === 200, 30_000, `/ready 200:\n${gateway.logs()}`);
    const token = await testToken({ sub: 'tls-writer' });
    await setConfig(gateway.url, token, uniqueNamespace('tls'), 'k', 1);
    const admin = new Redis(redis.url, { tls: { ca: certs.ca }, maxRetriesPerRequest: 1 });
    try {
      const connected = await clientList(admin);
      for (const name of ['hotconf-pub', 'hotconf-sub', 'hotconf-commands']) {
        expect(connected.find((client) => client.name === name), JSON.stringify(connected)).toMatchObject({ user: 'hotconf' });
      }
    } finally {
      admin.disconnect();
    }
  });
});

/** The ACL docs/REDIS.md gives for a gateway's Redis user, for keys and channels under `prefix`. */
const documentedAcl = (prefix: string) => [
  'resetchannels', `&${prefix}*`, 'resetkeys', `~${prefix}*`, '-@all',
  '+ping', '+info', '+client|setname',
  '+publish', '+subscribe', '+unsubscribe', '+psubscribe', '+punsubscribe',
  '+evalsha', '+eval', '+set', '+incrby', '+pttl', '+expire',
];

describe('a Redis user restricted by ACL', () => {
  let database: TestDatabase;
  const servers: PrivateRedis[] = [];
  const gateways: Gateway[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('racl');
  });
  afterAll(async () => {
    await Promise.allSettled(gateways.map((gateway) => gateway.stop('SIGKILL')));
    await Promise.allSettled(servers.map((server) => server.stop()));
    await database?.drop();
  });

  const start = async (rules: string[], prefix: string) => {
    const redis = await startPrivateRedis({ user: { name: 'hotconf', password: 'acl-pw', rules } });
    servers.push(redis);
    const gateway = await startGateway({
      env: { DATABASE_URL: database.url, REDIS_URL: redis.url, HOTCONF_CHANNEL_PREFIX: prefix, HOTCONF_REPAIR_INTERVAL_MS: '600000', HOTCONF_RATE_LIMIT_PER_MIN: '100' },
    });
    gateways.push(gateway);
    await waitFor(async () => (await ready(gateway)).status === 200, 30_000, `/ready 200:\n${gateway.logs()}`);
    return { redis, gateway };
  };

  it('with the documented ACL, changes travel live and the rate limit is decided in Redis', async () => {
    const prefix = uniquePrefix('racl');
    const { gateway } = await start(documentedAcl(prefix), prefix);
    const token = await testToken({ sub: 'acl-writer' });
    const namespace = uniqueNamespace('acl');
    const client = wsClient(gateway.wsUrl, token);
    try {
      const watcher = await subscribeWs(client, { namespace });
      await waitFor(async () => (await ready(gateway)).body.namespaces[namespace] !== undefined, 15_000, 'watching');
      const revision = await setConfig(gateway.url, token, namespace, 'k', 1);
      await watcher.waitForCount(1);
      expect(watcher.changes).toEqual([{ key: 'k', op: 'SET', version: 1, revision, value: 1, replayed: false }]);
      expect((await ready(gateway)).body.repairs).toEqual({ gap: 0, reconnect: 0, periodic: 0 });
      await watcher.close();
    } finally {
      await client.dispose();
    }
    // A limiter refused by the ACL would have logged its fallback to counting alone.
    expect(gateway.logs()).not.toMatch(/NOPERM|no verdict from Redis/);
  });

  it('a user without PUBLISH is reported once, at error level, as a permission to grant', async () => {
    const prefix = uniquePrefix('racl');
    const { gateway } = await start([...documentedAcl(prefix), '-publish'], prefix);
    const token = await testToken({ sub: 'acl-nopub' });
    for (let i = 0; i < 5; i += 1) await setConfig(gateway.url, token, 'acl-nopub', `k${i}`, i);
    await waitFor(() => gateway.logs().includes('NOPERM'), 15_000, 'the refusal in the log');
    const refusals = gateway.logs().split('\n').filter((line) => line.includes('NOPERM'));
    expect(refusals, gateway.logs()).toHaveLength(1);
    expect(JSON.parse(refusals[0]!)).toMatchObject({ level: 50, kind: 'permission', user: 'hotconf' });
    expect(refusals[0]).toContain("'publish'");
  });
});
