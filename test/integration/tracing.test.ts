import { randomBytes } from 'node:crypto';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { TEST_JWT_SECRET, testToken, uniqueNamespace } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';

/** A gateway in this process whose spans go to an in-memory exporter of its own. */
interface TracedGateway {
  name: string;
  app: App;
  url: string;
  wsUrl: string;
  exporter: InMemorySpanExporter;
  provider: BasicTracerProvider;
  /** Every span this gateway finished so far. */
  spans(): ReadableSpan[];
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const traceparent = (traceId: string, spanId: string) => `00-${traceId}-${spanId}-01`;

const SUBSCRIPTION = /* GraphQL */ `
  subscription Watch($namespace: String!) {
    configChanged(namespace: $namespace) { key revision traceId }
  }
`;
const SET_CONFIG = /* GraphQL */ `
  mutation SetConfig($input: SetConfigInput!) {
    setConfig(input: $input) { key version revision }
  }
`;
const SET_CONFIGS = /* GraphQL */ `
  mutation SetMany($namespace: String!, $inputs: [BatchSetInput!]!) {
    setConfigs(namespace: $namespace, inputs: $inputs) { key revision }
  }
`;

interface Received {
  key: string;
  revision: number;
  traceId: string | null;
}

describe('OpenTelemetry: one trace follows a change across the fleet', () => {
  let database: TestDatabase;
  let token: string;
  const gateways: TracedGateway[] = [];
  const clients: Client[] = [];
  const aborts: AbortController[] = [];
  let a: TracedGateway;
  let b: TracedGateway;
  /** On another channel prefix: it never hears A's messages and repairs from history. */
  let c: TracedGateway;

  const start = async (name: string, env: Record<string, string>): Promise<TracedGateway> => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': name }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      NODE_ENV: 'test',
      DATABASE_URL: database.url,
      REDIS_URL: SHARED_REDIS_URL,
      HOTCONF_JWT_SECRET: TEST_JWT_SECRET,
      HOTCONF_RATE_LIMIT_PER_MIN: '0',
      ...env,
    });
    const app = await createApp(config, { logger: createLogger({ level: process.env.HOTCONF_TEST_LOG ?? 'silent' }), tracerProvider: provider });
    const { url } = await app.start();
    const gateway: TracedGateway = { name, app, url, wsUrl: url.replace(/^http/, 'ws'), exporter, provider, spans: () => exporter.getFinishedSpans() };
    gateways.push(gateway);
    return gateway;
  };

  beforeAll(async () => {
    database = await createTestDatabase('tracing');
    token = await testToken({ sub: 'tracer', role: 'admin', namespaces: '*' });
    const prefix = uniquePrefix('tracing');
    a = await start('gateway-a', { HOTCONF_CHANNEL_PREFIX: prefix });
    b = await start('gateway-b', { HOTCONF_CHANNEL_PREFIX: prefix });
    c = await start('gateway-c', { HOTCONF_CHANNEL_PREFIX: uniquePrefix('tracing-deaf'), HOTCONF_REPAIR_INTERVAL_MS: '100' });
  });

  afterAll(async () => {
    for (const abort of aborts) abort.abort();
    for (const client of clients) await client.dispose();
    for (const gateway of gateways) {
      await gateway.app.stop();
      await gateway.provider.shutdown();
    }
    await database?.drop();
  });

  const post = (gateway: TracedGateway, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify({ query, variables }),
    });

  /** An SSE subscription (yoga's own) sent with `headers`. */
  const watchSse = async (gateway: TracedGateway, namespace: string, headers: Record<string, string>): Promise<Received[]> => {
    const abort = new AbortController();
    aborts.push(abort);
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify({ query: SUBSCRIPTION, variables: { namespace } }),
      signal: abort.signal,
    });
    expect(response.status).toBe(200);
    const received: Received[] = [];
    void (async () => {
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += value;
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const data = buffer.slice(0, end).split('\n').find((line) => line.startsWith('data:'));
            buffer = buffer.slice(end + 2);
            const parsed = data ? (JSON.parse(data.slice(5)) as { data?: { configChanged: Received } }) : null;
            if (parsed?.data) received.push(parsed.data.configChanged);
          }
        }
      } catch {
        // aborted at the end of the file
      }
    })();
    return received;
  };

  /** A graphql-ws subscription whose subscribe message carries `extensions`. */
  const watchWs = (gateway: TracedGateway, namespace: string, extensions: Record<string, unknown>): Received[] => {
    const client = createClient({ url: gateway.wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
    clients.push(client);
    const received: Received[] = [];
    client.subscribe<{ configChanged: Received }>(
      { query: SUBSCRIPTION, variables: { namespace }, extensions },
      { next: (result) => void (result.data && received.push(result.data.configChanged)), error: () => {}, complete: () => {} },
    );
    return received;
  };

  /** The span named `name` in `gateway`'s trace `traceId`, once it has ended (exactly one). */
  const spanOf = async (gateway: TracedGateway, traceId: string, name: string): Promise<ReadableSpan> => {
    const find = () => gateway.spans().filter((span) => span.spanContext().traceId === traceId && span.name === name);
    await waitFor(() => find().length > 0, 15_000, `${gateway.name}: span ${name} in trace ${traceId}`);
    expect(find()).toHaveLength(1);
    return find()[0]!;
  };
  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

  it('request on A → commit → publish → delivery on A and on B, in one trace; subscriptions traced on SSE and graphql-ws', async () => {
    const namespace = uniqueNamespace('trace');
    const sse = { traceId: hex(16), spanId: hex(8) };
    const ws = { traceId: hex(16), spanId: hex(8) };
    const onA = await watchSse(a, namespace, { traceparent: traceparent(sse.traceId, sse.spanId) });
    const onB = watchWs(b, namespace, { traceparent: traceparent(ws.traceId, ws.spanId) });

    // Each subscription's span ends once its stream is set up (the namespace is followed then).
    const sseSpan = await spanOf(a, sse.traceId, 'subscription Watch');
    const wsSpan = await spanOf(b, ws.traceId, 'subscription Watch');
    expect(parentOf(sseSpan)).toBe(sse.spanId);
    expect(sseSpan.kind).toBe(SpanKind.SERVER);
    expect(sseSpan.attributes).toMatchObject({ 'hotconf.transport': 'sse', 'graphql.operation.type': 'subscription', 'graphql.operation.name': 'Watch' });
    expect(parentOf(wsSpan)).toBe(ws.spanId);
    expect(wsSpan.attributes).toMatchObject({ 'hotconf.transport': 'graphql-ws', 'graphql.operation.type': 'subscription' });

    const caller = { traceId: hex(16), spanId: hex(8) };
    const marker = `value-${hex(12)}`;
    const response = await post(a, SET_CONFIG, { input: { namespace, key: 'ai.threshold', value: { marker }, reason: 'trace it' } }, {
      traceparent: traceparent(caller.traceId, caller.spanId),
    });
    expect(response.status).toBe(200);
    const { data } = (await response.json()) as { data: { setConfig: { revision: number } } };
    const { revision } = data.setConfig;
    // The logged (and echoed, and recorded) trace id is the request span's: the caller's trace.
    expect(response.headers.get('x-trace-id')).toBe(caller.traceId);

    await waitFor(() => onA.length === 1 && onB.length === 1, 15_000, 'the change on A (SSE) and on B (graphql-ws)');
    expect(onA[0]).toEqual({ key: 'ai.threshold', revision, traceId: caller.traceId });
    expect(onB[0]).toEqual({ key: 'ai.threshold', revision, traceId: caller.traceId });

    const request = await spanOf(a, caller.traceId, 'mutation SetConfig');
    const commit = await spanOf(a, caller.traceId, 'hotconf.commit');
    const publish = await spanOf(a, caller.traceId, 'hotconf.publish');
    const deliveredOnA = await spanOf(a, caller.traceId, 'hotconf.deliver');
    const deliveredOnB = await spanOf(b, caller.traceId, 'hotconf.deliver');

    expect(request.kind).toBe(SpanKind.SERVER);
    expect(parentOf(request)).toBe(caller.spanId);
    expect(request.attributes).toMatchObject({
      'graphql.operation.type': 'mutation',
      'graphql.operation.name': 'SetConfig',
      'hotconf.transport': 'http',
      'http.response.status_code': 200,
    });
    const change = { 'hotconf.namespace': namespace, 'hotconf.revision': revision, 'hotconf.key_count': 1 };
    expect(parentOf(commit)).toBe(request.spanContext().spanId);
    expect(commit.attributes).toEqual(change);
    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(parentOf(publish)).toBe(request.spanContext().spanId);
    expect(publish.attributes).toEqual(change);
    // A's own subscribers hear the commit directly, without the bus.
    expect(parentOf(deliveredOnA)).toBe(request.spanContext().spanId);
    expect(deliveredOnA.attributes).toEqual({ ...change, 'hotconf.delivery.source': 'local', 'hotconf.delivery.watchers': 1 });
    // B heard the bus message: its delivery continues the publish carried in the message.
    expect(deliveredOnB.kind).toBe(SpanKind.CONSUMER);
    expect(parentOf(deliveredOnB)).toBe(publish.spanContext().spanId);
    expect(deliveredOnB.attributes).toEqual({ ...change, 'hotconf.delivery.source': 'bus', 'hotconf.delivery.watchers': 1 });
    expect(deliveredOnB.resource.attributes['service.name']).toBe('gateway-b');
    for (const span of [request, commit, publish, deliveredOnA, deliveredOnB]) expect(span.status.code).not.toBe(SpanStatusCode.ERROR);

    // Never a value: not in a name, an attribute, an event or a status of any gateway's span.
    await Promise.all(gateways.map((gateway) => gateway.provider.forceFlush()));
    for (const gateway of gateways) expect(JSON.stringify(gateway.spans().map(describeSpan))).not.toContain(marker);
  });

  it('a request without traceparent starts a trace: its span’s trace id is the one echoed and recorded', async () => {
    const namespace = uniqueNamespace('root');
    const response = await post(a, SET_CONFIG, { input: { namespace, key: 'k', value: 1 } }, { 'x-trace-id': 'caller-correlation-1' });
    const traceId = response.headers.get('x-trace-id')!;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const request = await spanOf(a, traceId, 'mutation SetConfig');
    expect(request.parentSpanContext).toBeUndefined();
    expect(request.attributes['hotconf.request.x_trace_id']).toBe('caller-correlation-1');
    const history = (await (await post(a, /* GraphQL */ `query H($ns: String!) { config(namespace: $ns, key: "k") { history { traceId } } }`, { ns: namespace })).json()) as {
      data: { config: { history: Array<{ traceId: string }> } };
    };
    expect(history.data.config.history[0]!.traceId).toBe(traceId);
  });

  it('graphql-ws subscriptions that share one execution each have their own span', async () => {
    const namespace = uniqueNamespace('shared');
    const callers = [0, 1, 2].map(() => ({ traceId: hex(16), spanId: hex(8) }));
    for (const caller of callers) {
      watchWs(b, namespace, { traceparent: traceparent(caller.traceId, caller.spanId) });
      // One at a time: the later ones join the first one's execution.
      await spanOf(b, caller.traceId, 'subscription Watch');
    }
    // Proof they share: B's only shared execution serves all three (more than one subscriber).
    expect(b.app.metrics.sharedWsStats().sharedSubscriptions).toBeGreaterThanOrEqual(3);
    for (const caller of callers) expect(parentOf(await spanOf(b, caller.traceId, 'subscription Watch'))).toBe(caller.spanId);
  });

  it('a mutation over graphql-ws runs under the traceparent of its subscribe message', async () => {
    const namespace = uniqueNamespace('wsmut');
    const caller = { traceId: hex(16), spanId: hex(8) };
    const client = createClient({ url: b.wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
    clients.push(client);
    const result = await new Promise<unknown>((resolve, reject) => {
      let value: unknown;
      client.subscribe(
        { query: SET_CONFIG, variables: { input: { namespace, key: 'k', value: 1 } }, extensions: { traceparent: traceparent(caller.traceId, caller.spanId) } },
        { next: (next) => void (value = next), error: reject, complete: () => resolve(value) },
      );
    });
    expect(result).toMatchObject({ data: { setConfig: { key: 'k', version: 1 } } });
    const request = await spanOf(b, caller.traceId, 'mutation SetConfig');
    expect(parentOf(request)).toBe(caller.spanId);
    expect(request.attributes).toMatchObject({ 'hotconf.transport': 'graphql-ws', 'graphql.operation.type': 'mutation' });
    // The resolver ran with the operation's span active.
    expect(parentOf(await spanOf(b, caller.traceId, 'hotconf.commit'))).toBe(request.spanContext().spanId);
    expect(parentOf(await spanOf(b, caller.traceId, 'hotconf.publish'))).toBe(request.spanContext().spanId);
  });

  it('a batch counts its keys; a refused write marks its commit span with the code only', async () => {
    const namespace = uniqueNamespace('batch');
    const caller = { traceId: hex(16), spanId: hex(8) };
    const batch = await post(a, SET_CONFIGS, { namespace, inputs: [{ key: 'x', value: 1 }, { key: 'y', value: 2 }, { key: 'z', value: 3 }] }, {
      traceparent: traceparent(caller.traceId, caller.spanId),
    });
    expect(batch.status).toBe(200);
    expect((await spanOf(a, caller.traceId, 'hotconf.commit')).attributes['hotconf.key_count']).toBe(3);
    expect((await spanOf(a, caller.traceId, 'hotconf.publish')).attributes['hotconf.key_count']).toBe(3);

    const refused = { traceId: hex(16), spanId: hex(8) };
    const secretish = `refused-${hex(12)}`;
    const conflict = await post(a, SET_CONFIG, { input: { namespace, key: 'x', value: secretish, expectedVersion: 7 } }, {
      traceparent: traceparent(refused.traceId, refused.spanId),
    });
    expect(((await conflict.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('VERSION_CONFLICT');
    const commit = await spanOf(a, refused.traceId, 'hotconf.commit');
    expect(commit.status).toEqual({ code: SpanStatusCode.ERROR, message: 'VERSION_CONFLICT' });
    expect(commit.attributes).toEqual({ 'hotconf.namespace': namespace, 'error.type': 'VERSION_CONFLICT' });
    const request = await spanOf(a, refused.traceId, 'mutation SetConfig');
    expect(request.attributes['hotconf.graphql.error_codes']).toEqual(['VERSION_CONFLICT']);
    // Nothing was committed, so nothing was published.
    expect(a.spans().filter((span) => span.spanContext().traceId === refused.traceId).map((span) => span.name).sort()).toEqual(['hotconf.commit', 'mutation SetConfig']);
    expect(JSON.stringify(a.spans().map(describeSpan))).not.toContain(secretish);
  });

  it('a gateway that missed the message repairs from history: a repair trace naming the writer’s trace id', async () => {
    const namespace = uniqueNamespace('repair');
    const ws = { traceId: hex(16), spanId: hex(8) };
    const onC = watchWs(c, namespace, { traceparent: traceparent(ws.traceId, ws.spanId) });
    await spanOf(c, ws.traceId, 'subscription Watch');

    const caller = { traceId: hex(16), spanId: hex(8) };
    const response = await post(a, SET_CONFIG, { input: { namespace, key: 'k', value: 'v' } }, { traceparent: traceparent(caller.traceId, caller.spanId) });
    const { revision } = ((await response.json()) as { data: { setConfig: { revision: number } } }).data.setConfig;
    await waitFor(() => onC.length === 1, 15_000, 'the change on C through the periodic check');

    // C heard no message: nothing of C's is in the writer's trace.
    expect(c.spans().filter((span) => span.spanContext().traceId === caller.traceId)).toEqual([]);
    let delivery: ReadableSpan | undefined;
    await waitFor(() => {
      delivery = c.spans().find((span) => span.name === 'hotconf.deliver' && span.attributes['hotconf.namespace'] === namespace);
      return delivery !== undefined;
    }, 15_000, 'C’s delivery span');
    expect(delivery!.attributes).toEqual({
      'hotconf.namespace': namespace,
      'hotconf.revision': revision,
      'hotconf.key_count': 1,
      'hotconf.delivery.source': 'history',
      'hotconf.delivery.watchers': 1,
      'hotconf.origin.trace_id': caller.traceId,
    });
    const repair = c.spans().find((span) => span.spanContext().spanId === parentOf(delivery!));
    expect(repair?.name).toBe('hotconf.repair');
    expect(repair!.parentSpanContext).toBeUndefined();
    expect(repair!.spanContext().traceId).toBe(delivery!.spanContext().traceId);
    expect(repair!.attributes).toMatchObject({
      'hotconf.namespace': namespace,
      'hotconf.repair.reason': 'periodic',
      'hotconf.repair.from_revision': revision - 1,
      'hotconf.repair.to_revision': revision,
    });
  });
});

/** Everything an exporter would send of a span. */
function describeSpan(span: ReadableSpan) {
  return {
    name: span.name,
    attributes: span.attributes,
    events: span.events,
    links: span.links,
    status: span.status,
    resource: span.resource.attributes,
  };
}
