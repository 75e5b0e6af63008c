import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/server/metrics.js';
import { createMetricsEndpoint } from '../../src/server/metrics-endpoint.js';
import { connectMetricsSources } from '../../src/server/metrics-sources.js';

function fakeResponse() {
  const sent = { status: 0, headers: {} as Record<string, unknown>, body: undefined as string | undefined, ended: false };
  const res = {
    writeHead(status: number, headers: Record<string, unknown>) {
      sent.status = status;
      sent.headers = headers;
      return res;
    },
    end(body?: string) {
      sent.body = body;
      sent.ended = true;
      return res;
    },
  };
  return { res: res as unknown as ServerResponse, sent };
}
const request = (method: string, url: string) => ({ method, url }) as IncomingMessage;

const feedStats = (revisions: Record<string, number>) => ({ revisions, repairs: { gap: 0, reconnect: 0, periodic: 0 }, lastMessageAt: null }) as never;

describe('createMetricsEndpoint', () => {
  it('serves GET /metrics (query string ignored) as Prometheus text, HEAD without a body, and nothing else', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const serve = createMetricsEndpoint(metrics);
    const get = fakeResponse();
    expect(await serve(request('GET', '/metrics?x=1'), get.res)).toBe(true);
    expect(get.sent.status).toBe(200);
    expect(get.sent.headers['content-type']).toBe(metrics.contentType);
    expect(get.sent.body).toContain('# TYPE hotconf_graphql_requests_total counter');
    const head = fakeResponse();
    expect(await serve(request('HEAD', '/metrics'), head.res)).toBe(true);
    expect(head.sent).toMatchObject({ status: 200, body: undefined, ended: true });
    for (const [method, url] of [['POST', '/metrics'], ['GET', '/ready'], ['GET', '/metricsx']] as const) {
      const other = fakeResponse();
      expect(await serve(request(method, url), other.res)).toBe(false);
      expect(other.sent.ended).toBe(false);
    }
  });

  it('answers 500 with a JSON body when collecting fails', async () => {
    const serve = createMetricsEndpoint({ contentType: 'text/plain', render: () => Promise.reject(new Error('collect failed')) });
    const { res, sent } = fakeResponse();
    expect(await serve(request('GET', '/metrics'), res)).toBe(true);
    expect(sent.status).toBe(500);
    expect(JSON.parse(sent.body!)).toEqual({ status: 'error', error: 'metrics collection failed' });
  });
});

describe('connectMetricsSources', () => {
  it('points every live gauge at the parts, in one call', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    connectMetricsSources(metrics, {
      store: {
        ping: async () => {},
        stats: () => ({ driver: 'postgres', max: 10, size: 3, inUse: 1, idle: 2, waiting: 0 }),
        revisions: async (names) => new Map(names.map((name) => [name, 9])),
      },
      bus: { status: () => ({ kind: 'redis', connected: false, publishFailures: 2, lastMessageAt: null }) as never },
      feed: { stats: () => feedStats({ demo: 7 }) },
      convergence: { get: async () => ({ clients: [{ lag: 1 }, { lag: 4 }] }) },
      websocket: { stats: () => ({ sharedExecutions: 2, sharedSubscriptions: 5 }) },
    });
    const text = await metrics.render();
    expect(text).toContain('hotconf_namespace_revision{namespace="demo",source="gateway"} 7');
    expect(text).toContain('hotconf_namespace_revision{namespace="demo",source="db"} 9');
    expect(text).toContain('hotconf_client_revision_lag{namespace="demo"} 4');
    expect(text).toContain('hotconf_redis_up 0');
    expect(text).toContain('hotconf_postgres_up 1');
    expect(text).toContain('hotconf_publish_failures_total 2');
    expect(text).toContain('hotconf_db_pool_max 10');
    expect(text).toContain('hotconf_db_pool_connections{state="in_use"} 1');
    expect(text).toContain('hotconf_ws_shared_executions 2');
    expect(metrics.sharedWsStats()).toEqual({ sharedExecutions: 2, sharedSubscriptions: 5 });
  });

  it('reports no pool connection series for the embedded database (no pool figures)', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    connectMetricsSources(metrics, {
      store: { ping: async () => {}, stats: () => ({ driver: 'pglite' }) as never, revisions: async () => new Map() },
      bus: { status: () => ({ kind: 'memory', connected: true, publishFailures: 0, lastMessageAt: null }) as never },
      feed: { stats: () => feedStats({}) },
    });
    const text = await metrics.render();
    expect(text).not.toContain('hotconf_db_pool_connections{');
    expect(text).toContain('hotconf_redis_up 1');
  });
});
