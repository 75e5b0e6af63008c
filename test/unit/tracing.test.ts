import { SpanKind, type TracerProvider } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { createChangeFeed } from '../../src/bus/change-feed.js';
import { createMemoryBus } from '../../src/bus/memory-bus.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { toChangeMessage } from '../../src/core/change-message.js';
import type { ChangeMessage, ConfigStore, DeliveredChange, WriteResult } from '../../src/core/types.js';
import { installTracingGlobals } from '../../src/server/tracing.js';
import { waitFor } from '../helpers/net.js';

describe('tracing settings', () => {
  it('is off, with no SDK to load, unless an OTLP endpoint is configured', () => {
    expect(loadConfig({}).tracing).toBeNull();
    expect(loadConfig({ OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).tracing).toBeNull();
  });

  it('OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: the traces path is appended; defaults are protobuf and service hotconf', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({
      endpoint: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      serviceName: 'hotconf',
      resourceAttributes: {},
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example/api' }).tracing?.endpoint).toBe('https://otlp.example/api/v1/traces');
  });

  it('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as given and wins; the traces protocol wins over the general one', () => {
    const tracing = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://tempo:4318/custom/traces',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'config-gateway',
    }).tracing;
    expect(tracing).toMatchObject({ endpoint: 'http://tempo:4318/custom/traces', protocol: 'http/json', serviceName: 'config-gateway' });
  });

  it('OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none turn it off', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }).tracing).toBeNull();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }).tracing).toBeNull();
  });

  it('resource attributes are read, percent-decoded, and service.name among them counts when OTEL_SERVICE_NAME is unset', () => {
    const tracing = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_RESOURCE_ATTRIBUTES: 'service.name=gw,deployment.environment.name=prod%20eu' }).tracing;
    expect(tracing?.serviceName).toBe('gw');
    expect(tracing?.resourceAttributes).toEqual({ 'service.name': 'gw', 'deployment.environment.name': 'prod eu' });
  });

  it('refuses what it cannot honour, naming the variable', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    expect(() => loadConfig({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL must be http\/protobuf or http\/json/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' })).toThrow(ConfigError);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://c' })).toThrow(/OTEL_EXPORTER_OTLP_TRACES_ENDPOINT/);
    expect(() => loadConfig({ ...endpoint, OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER/);
    expect(() => loadConfig({ ...endpoint, OTEL_RESOURCE_ATTRIBUTES: 'novalue' })).toThrow(/OTEL_RESOURCE_ATTRIBUTES/);
  });
});

describe('trace context in the change message', () => {
  const result: WriteResult = {
    namespace: 'ns',
    revision: 1,
    changes: [
      {
        namespace: 'ns',
        key: 'k',
        op: 'SET',
        version: 1,
        revision: 1,
        value: 1,
        changedAt: new Date(0),
        changedBy: null,
        reason: null,
        traceId: null,
        secret: false,
        description: null,
        schema: null,
      },
    ],
    entries: [],
  };

  it('a gateway that does not trace sends messages without a trace field, as before', () => {
    expect('trace' in toChangeMessage(result, 65_536)).toBe(false);
  });

  describe('a tracing gateway receiving messages', () => {
    installTracingGlobals();
    const exporter = new InMemorySpanExporter();
    const provider: TracerProvider & { shutdown(): Promise<void> } = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const bus = createMemoryBus();
    // Revisions start at 0 and arrive contiguously: the store is never read.
    const store = { revisions: async (names: readonly string[]) => new Map(names.map((name) => [name, 0])) } as unknown as ConfigStore;
    const feed = createChangeFeed({ store, bus, repairIntervalMs: 3_600_000, tracer: provider.getTracer('test') });
    afterAll(async () => {
      await feed.close();
      await bus.close();
      await provider.shutdown();
    });

    const message = (revision: number, trace?: ChangeMessage['trace']): ChangeMessage => ({
      ...toChangeMessage({ ...result, revision, changes: result.changes.map((change) => ({ ...change, revision, version: revision })) }, 65_536),
      ...(trace ? { trace } : {}),
    });

    it('delivers messages from older gateways (no trace field) and ones with a broken traceparent as new traces', async () => {
      const received: DeliveredChange[] = [];
      const watch = await feed.watch('ns', {});
      void (async () => {
        for await (const change of watch) received.push(change);
      })();
      const parent = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
      bus.publish(message(1));
      bus.publish(message(2, { traceparent: `00-${parent.traceId}-${parent.spanId}-01` }));
      bus.publish(message(3, { traceparent: 'not-a-traceparent' }));
      await waitFor(() => received.length === 3, 5_000, 'three revisions');

      const spans = exporter.getFinishedSpans().filter((span) => span.name === 'hotconf.deliver');
      expect(spans.map((span) => span.attributes['hotconf.revision'])).toEqual([1, 2, 3]);
      expect(spans.every((span) => span.kind === SpanKind.CONSUMER)).toBe(true);
      expect(spans[0]!.parentSpanContext).toBeUndefined();
      expect(spans[1]!.spanContext().traceId).toBe(parent.traceId);
      expect(spans[1]!.parentSpanContext?.spanId).toBe(parent.spanId);
      expect(spans[2]!.parentSpanContext).toBeUndefined();
    });
  });
});
