import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testToken, uniqueNamespace, gql, setConfig, subscribeWs, wsClient, type Gateway, type Subscriber } from '../helpers/gateway.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/net.js';
import type { Client } from 'graphql-ws';

const CONFIG = /* GraphQL */ `
  query Config($namespace: String!, $key: String!) {
    config(namespace: $namespace, key: $key) { value version redacted }
  }
`;
const CONFIGS = /* GraphQL */ `
  query Configs($namespace: String!, $prefix: String) {
    configs(namespace: $namespace, prefix: $prefix) { revision entries { key value version redacted } }
  }
`;
const FLAG = /* GraphQL */ `
  query Flag($namespace: String!, $key: String!, $userId: String!) {
    evaluateFlag(namespace: $namespace, key: $key, userId: $userId) { enabled version }
  }
`;
const SET_SECRET = /* GraphQL */ `
  mutation SetSecret($input: SetConfigInput!) {
    setConfig(input: $input) { revision }
  }
`;

/** One sample of a counter (summed over label sets matching `labels`). */
async function counter(gateway: Gateway, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

async function storeCalls(gateway: Gateway): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text();
  const calls: Record<string, number> = {};
  for (const match of text.matchAll(/^hotconf_store_calls_total\{method="(\w+)"\} (\d+)/gm)) calls[match[1]!] = Number(match[2]);
  return calls;
}
const diff = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).map(([method, n]) => [method, n - (before[method] ?? 0)]).filter(([, n]) => (n as number) > 0));

/** POSTs through a bounded keep-alive agent (5,000 clients, not 5,000 sockets). */
function post<T>(agent: Agent, url: string, token: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const body = JSON.stringify({ query, variables });
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: T; errors?: unknown[] };
        if (parsed.errors) reject(new Error(JSON.stringify(parsed.errors)));
        else resolve(parsed.data as T);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('reads come from memory where provably current', () => {
  let database: TestDatabase;
  let a: Gateway;
  let b: Gateway;
  let deaf: Gateway;
  let token: string;

  beforeAll(async () => {
    database = await createTestDatabase('watchcache');
    const prefix = uniquePrefix('watchcache');
    const env = { DATABASE_URL: database.url, REDIS_URL: SHARED_REDIS_URL, HOTCONF_CHANNEL_PREFIX: prefix, HOTCONF_MAX_SUBSCRIPTIONS_PER_SUBJECT: '20000' };
    a = await startGateway({ env });
    // `deaf` hears no bus message (another channel prefix): only its periodic check keeps it.
    [b, deaf] = await Promise.all([
      startGateway({ env }),
      startGateway({ env: { ...env, HOTCONF_CHANNEL_PREFIX: `${prefix}deaf:`, HOTCONF_REPAIR_INTERVAL_MS: '300' } }),
    ]);
    token = await testToken();
  }, 240_000);

  afterAll(async () => {
    await Promise.allSettled([a, b, deaf].map((gateway) => gateway?.stop()));
    await database?.drop();
  });

  it('a read right after a write on another gateway never returns the older value, whether or not the bus brought it', { timeout: 180_000 }, async () => {
    const namespace = uniqueNamespace('raw');
    await setConfig(a.url, token, namespace, 'k', -1);
    await setConfig(a.url, token, namespace, 'flag', { enabled: false, rolloutPercentage: 100 });
    // Build both caches.
    await Promise.all([b, deaf].map((gateway) => gql(gateway.url, token, CONFIG, { namespace, key: 'k' })));
    const cacheBefore = await counter(b, 'hotconf_reads_total', { source: 'cache' });
    const ROUNDS = 60;
    for (let i = 0; i < ROUNDS; i++) {
      await setConfig(a.url, token, namespace, 'k', i);
      const enabled = i % 2 === 0;
      await setConfig(a.url, token, namespace, 'flag', { enabled, rolloutPercentage: 100 });
      // The write's answer has arrived: every read sent now sees it, on every gateway.
      const reads = await Promise.all(
        [b, deaf].flatMap((gateway) => [
          gql<{ config: { value: number } }>(gateway.url, token, CONFIG, { namespace, key: 'k' }).then((data) => data.config.value),
          gql<{ configs: { entries: Array<{ key: string; value: number }> } }>(gateway.url, token, CONFIGS, { namespace }).then(
            (data) => data.configs.entries.find((entry) => entry.key === 'k')?.value,
          ),
          gql<{ evaluateFlag: { enabled: boolean } }>(gateway.url, token, FLAG, { namespace, key: 'flag', userId: 'u' }).then((data) => (data.evaluateFlag.enabled === enabled ? i : -2)),
        ]),
      );
      expect(reads).toEqual(reads.map(() => i));
    }
    // And they came from memory (on the gateway that hears the bus, nearly all of them).
    expect((await counter(b, 'hotconf_reads_total', { source: 'cache' })) - cacheBefore).toBeGreaterThanOrEqual(ROUNDS * 3 * 0.9);
  });

  it('a writer reads its own writes', { timeout: 120_000 }, async () => {
    const namespace = uniqueNamespace('own');
    await setConfig(b.url, token, namespace, 'k', 0);
    await gql(b.url, token, CONFIG, { namespace, key: 'k' });
    for (let i = 1; i <= 30; i++) {
      await setConfig(b.url, token, namespace, 'k', i);
      const data = await gql<{ config: { value: number; version: number } }>(b.url, token, CONFIG, { namespace, key: 'k' });
      expect(data.config).toMatchObject({ value: i, version: i + 1 });
    }
  });

  it('secret values from memory reach only callers allowed to read them', { timeout: 120_000 }, async () => {
    const namespace = uniqueNamespace('secret');
    await gql(a.url, token, SET_SECRET, { input: { namespace, key: 'db.password', value: 'hunter2', secret: true } });
    const reader = await testToken({ role: 'reader', namespaces: [namespace] });
    const trusted = await testToken({ role: 'reader', namespaces: [namespace], secrets: true });
    await gql(b.url, reader, CONFIG, { namespace, key: 'db.password' }); // builds the cache
    const before = await counter(b, 'hotconf_reads_total', { source: 'cache' });
    // A new secret value travels without its value on the bus; the cache gets it from history.
    await gql(a.url, token, SET_SECRET, { input: { namespace, key: 'db.password', value: 'correct horse' } });
    const plain = await gql<{ config: { value: unknown; redacted: boolean } }>(b.url, reader, CONFIG, { namespace, key: 'db.password' });
    expect(plain.config).toEqual({ value: null, version: 2, redacted: true });
    const listed = await gql<{ configs: { entries: Array<{ value: unknown; redacted: boolean }> } }>(b.url, reader, CONFIGS, { namespace });
    expect(listed.configs.entries).toEqual([{ key: 'db.password', value: null, version: 2, redacted: true }]);
    const allowed = await gql<{ config: { value: unknown; redacted: boolean } }>(b.url, trusted, CONFIG, { namespace, key: 'db.password' });
    expect(allowed.config).toEqual({ value: 'correct horse', version: 2, redacted: false });
    expect((await counter(b, 'hotconf_reads_total', { source: 'cache' })) - before).toBe(3);
  });

  /** `clients` list-then-watch clients start at once on `b`; resolves with b's store calls meanwhile. */
  const listThenWatch = async (clients: number) => {
    const namespace = uniqueNamespace('lw');
    await gql(a.url, token, /* GraphQL */ `mutation S($namespace: String!, $inputs: [BatchSetInput!]!) { setConfigs(namespace: $namespace, inputs: $inputs) { revision } }`, {
      namespace,
      inputs: Array.from({ length: 20 }, (_, i) => ({ key: `key.${i}`, value: i })),
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    const sockets: Client[] = Array.from({ length: Math.ceil(clients / 50) }, () => wsClient(b.wsUrl, token));
    const subscribers: Subscriber[] = [];
    try {
      const before = await storeCalls(b);
      const startedAt = Date.now();
      await Promise.all(
        Array.from({ length: clients }, async (_, i) => {
          const data = await post<{ configs: { revision: number; entries: unknown[] } }>(agent, b.url, token, CONFIGS, { namespace });
          expect(data.configs.entries).toHaveLength(20);
          subscribers.push(await subscribeWs(sockets[i % sockets.length]!, { namespace, sinceRevision: data.configs.revision }));
        }),
      );
      const during = { ...diff(await storeCalls(b), before), ms: Date.now() - startedAt };
      // Ready: each has its list and receives what comes next.
      let last = 0;
      await waitFor(
        async () => {
          last = await setConfig(a.url, token, namespace, 'ready', Date.now());
          await new Promise((resolve) => setTimeout(resolve, 300));
          const failed = subscribers.find((subscriber) => subscriber.errors.length > 0);
          if (failed) throw new Error(`a client failed: ${JSON.stringify(failed.errors)}`);
          return subscribers.every((subscriber) => subscriber.changes.some((change) => change.key === 'ready'));
        },
        120_000,
        'every client receiving a change after its list',
      );
      expect(last).toBeGreaterThan(0);
      return during;
    } finally {
      await Promise.allSettled(subscribers.map((subscriber) => subscriber.close()));
      await Promise.allSettled(sockets.map((socket) => socket.dispose()));
      agent.destroy();
    }
  };

  it('5,000 list-then-watch clients starting at once all become ready, and the database calls do not grow with the clients', { timeout: 480_000 }, async () => {
    const few = await listThenWatch(500);
    const many = await listThenWatch(5_000);
    console.log(`store calls during the burst (ms: its wall time): 500 clients ${JSON.stringify(few)}; 5,000 clients ${JSON.stringify(many)}`);
    // Per namespace, not per client: one snapshot, no per-client read or history page. The one-row
    // revision checks are shared (at most one in flight per gateway, serving every read that
    // arrived before it started): they follow the burst's wall time, never one per client.
    for (const calls of [few, many]) {
      expect(calls.snapshot ?? 0).toBeLessThanOrEqual(1);
      expect(calls.get ?? 0).toBe(0);
      expect(calls.changes ?? 0).toBe(0);
    }
    const reads = (calls: Record<string, number>) => (calls.snapshot ?? 0) + (calls.get ?? 0) + (calls.changes ?? 0) + (calls.revisions ?? 0);
    expect(reads(many)).toBeLessThan(5_000 / 10);
    // Per client, the database's share shrinks as clients grow.
    expect(reads(many) / 5_000).toBeLessThanOrEqual((reads(few) / 500) * 1.5);
  });
});
