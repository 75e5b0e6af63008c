import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, setConfig, startGateway, subscribeSse, subscribeWs, testToken, uniqueNamespace, wsClient, type Gateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';

/** The value of the first sample of `name` whose labels include `labels`; 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!(line.startsWith(`${name}{`) || line.startsWith(`${name} `))) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

describe('/metrics moves when changes are made and delivered', () => {
  let database: TestDatabase;
  let gateway: Gateway;
  let token: string;
  const scrape = async () => {
    const response = await fetch(`http://127.0.0.1:${gateway.port}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    return response.text();
  };

  beforeAll(async () => {
    database = await createTestDatabase('opsmetrics');
    gateway = await startGateway({
      env: { DATABASE_URL: database.url, REDIS_URL: SHARED_REDIS_URL, HOTCONF_CHANNEL_PREFIX: uniquePrefix('opsm'), LOG_LEVEL: 'info' },
    });
    token = await testToken();
  });
  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await database?.drop();
  });

  it('counts writes, deliveries, subscribers by transport, revisions by source and requests by outcome', async () => {
    const namespace = uniqueNamespace('metrics');
    const before = await scrape();
    expect(sample(before, 'hotconf_redis_up')).toBe(1);
    expect(sample(before, 'hotconf_postgres_up')).toBe(1);
    expect(before).toMatch(/^process_cpu_user_seconds_total /m);

    const client = wsClient(gateway.url.replace('http', 'ws'), token);
    const ws = await subscribeWs(client, { namespace });
    const sse = await subscribeSse(gateway.url, token, { namespace });
    await waitFor(async () => {
      const text = await scrape();
      return sample(text, 'hotconf_subscribers', { transport: 'ws' }) === 1 && sample(text, 'hotconf_subscribers', { transport: 'sse' }) === 1;
    }, 10_000, 'one ws and one sse subscriber in /metrics');
    const propagatedBefore = sample(await scrape(), 'hotconf_propagation_seconds_count');

    await setConfig(gateway.url, token, namespace, 'a', 1);
    await setConfig(gateway.url, token, namespace, 'b', 2);
    await expect(gql(gateway.url, token, `mutation Conflict { setConfig(input: { namespace: "${namespace}", key: "a", value: 5, expectedVersion: 7 }) { version } }`)).rejects.toThrow(/VERSION_CONFLICT/);
    await ws.waitForCount(2);
    await sse.waitForCount(2);

    const after = await scrape();
    expect(sample(after, 'hotconf_config_changes_total', { namespace, op: 'SET' })).toBe(2);
    // Two changes, each delivered to two subscribers.
    expect(sample(after, 'hotconf_propagation_seconds_count') - propagatedBefore).toBeGreaterThanOrEqual(2);
    expect(sample(after, 'hotconf_namespace_revision', { namespace, source: 'gateway' })).toBe(2);
    expect(sample(after, 'hotconf_namespace_revision', { namespace, source: 'db' })).toBe(2);
    expect(sample(after, 'hotconf_graphql_requests_total', { operation: 'Set', type: 'mutation', code: 'OK' })).toBeGreaterThanOrEqual(2);
    expect(sample(after, 'hotconf_graphql_requests_total', { operation: 'Conflict', type: 'mutation', code: 'VERSION_CONFLICT' })).toBe(1);
    expect(sample(after, 'hotconf_graphql_request_duration_seconds_count', { operation: 'Set', code: 'OK' })).toBeGreaterThanOrEqual(2);

    await ws.close();
    await sse.close();
    await client.dispose();
    await waitFor(async () => {
      const text = await scrape();
      return sample(text, 'hotconf_subscribers', { transport: 'ws' }) === 0 && sample(text, 'hotconf_subscribers', { transport: 'sse' }) === 0;
    }, 10_000, 'subscribers back to 0 after they left');
  });

  it('counts every subscription of a shared execution, and shows the sharing in /metrics and /ready', async () => {
    const namespace = uniqueNamespace('shared');
    const client = wsClient(gateway.url.replace('http', 'ws'), token);
    const subscribers = await Promise.all([1, 2, 3].map(() => subscribeWs(client, { namespace, prefix: 'app.' })));
    await waitFor(async () => sample(await scrape(), 'hotconf_subscribers', { transport: 'ws' }) === 3, 10_000, 'three ws subscribers');
    expect(sample(await scrape(), 'hotconf_ws_shared_executions')).toBe(1);
    const ready = (await (await fetch(gateway.url.replace('/graphql', '/ready'))).json()) as { subscribers: Record<string, number> };
    expect(ready.subscribers).toMatchObject({ ws: 3, sharedExecutions: 1, sharedSubscriptions: 3 });
    await setConfig(gateway.url, token, namespace, 'app.x', 1);
    await Promise.all(subscribers.map((subscriber) => subscriber.waitForCount(1)));
    await Promise.all(subscribers.map((subscriber) => subscriber.close()));
    await client.dispose();
  });

  it('reports namespace revisions and subscriber counts in /ready', async () => {
    const namespace = uniqueNamespace('ready');
    const client = wsClient(gateway.url.replace('http', 'ws'), token);
    // From revision 0: the write below reaches it even if it lands before the subscription starts.
    const ws = await subscribeWs(client, { namespace, sinceRevision: 0 });
    await setConfig(gateway.url, token, namespace, 'k', true);
    await ws.waitForCount(1);
    const body = (await (await fetch(`http://127.0.0.1:${gateway.port}/ready`)).json()) as {
      namespaces: Record<string, { gateway: number; db: number; behind: number }>;
      subscribers: { ws: number };
      lastMessageAgeSeconds: number | null;
    };
    expect(body.namespaces[namespace]).toEqual({ gateway: 1, db: 1, behind: 0 });
    expect(body.subscribers.ws).toBeGreaterThanOrEqual(1);
    await ws.close();
    await client.dispose();
  });

  it('logs one JSON line per change with its trace id, actor and reason, and never the secret value', async () => {
    const namespace = uniqueNamespace('logs');
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const secret = `s3cr3t-${Date.now()}`;
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      },
      body: JSON.stringify({
        query: `mutation S($input: SetConfigInput!) { setConfig(input: $input) { version revision } }`,
        variables: { input: { namespace, key: 'db.password', value: secret, secret: true, reason: 'rotate' } },
      }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-trace-id')).toBe(traceId);
    await waitFor(() => gateway.logs().includes(namespace), 5_000, 'the change in the log');
    const lines = gateway
      .logs()
      .split('\n')
      .filter((line) => line.includes(namespace))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({ namespace, key: 'db.password', version: 1, revision: 1, actor: 'test', reason: 'rotate', traceId }),
    );
    expect(gateway.logs()).not.toContain(secret);
  });
});
