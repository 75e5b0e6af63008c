/**
 * The OpenTelemetry SDK: loaded only when tracing is configured (the composition root imports
 * this module dynamically), so a gateway without tracing never loads it.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { DiagLogLevel, context, diag, propagation, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { TracingConfig } from '../config.js';
import type { Logger } from '../logger.js';

/** The name of hotconf's tracer (the instrumentation scope of its spans). */
export const TRACER_NAME = 'hotconf';

let globalsInstalled = false;

/**
 * Registers what tracing needs process-wide, once: the AsyncLocalStorage context manager (a
 * request's span is active in its resolvers) and the W3C trace context propagator (`traceparent`
 * in, and in the change message). Both are stateless, so gateways in one process share them.
 *
 * No global tracer provider is registered: hotconf hands its tracer to its own modules, and a
 * library that traces through the global API stays silent. drizzle-orm's tracing, for one, would
 * record query parameters, that is config values.
 */
export function installTracingGlobals(): void {
  if (globalsInstalled) return;
  globalsInstalled = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

/** A running SDK: the gateway's tracer, and the provider whose `shutdown` flushes what is buffered. */
export interface Tracing {
  provider: TracerProvider;
  tracer: Tracer;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

/**
 * Starts the SDK from `config`: a batch span processor exporting over OTLP/HTTP (protobuf or
 * JSON) to `config.endpoint`, the resource naming the service and this process.
 */
export async function startTracing(config: TracingConfig, { version, logger }: { version: string; logger: Logger }): Promise<Tracing> {
  installTracingGlobals();
  reportSdkErrors(logger);
  // Only the exporter in use is loaded.
  const exporter: SpanExporter =
    config.protocol === 'http/json'
      ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter({ url: config.endpoint })
      : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter({ url: config.endpoint });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      // Which gateway a delivery span comes from: in Kubernetes the host name is the pod's.
      'host.name': hostname(),
      'service.instance.id': randomUUID(),
      'service.version': version,
      ...config.resourceAttributes,
      'service.name': config.serviceName,
    }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  // The endpoint is not logged: a URL may carry credentials.
  logger.info({ tracing: { protocol: config.protocol, serviceName: config.serviceName } }, 'tracing on: exporting spans over OTLP/HTTP');
  return { provider, tracer: provider.getTracer(TRACER_NAME, version), shutdown: () => provider.shutdown() };
}

const SDK_ERROR_LOG_INTERVAL_MS = 60_000; // 1 min

/**
 * SDK errors (a collector that cannot be reached, a refused export) reach the log as a warning at
 * most once a minute, with a cause picked from the message (a socket code or an HTTP status):
 * never the message itself, which can quote a header value (credentials) or a response body.
 */
function reportSdkErrors(logger: Logger): void {
  let lastAt = 0;
  const report = (message: string) => {
    const now = Date.now();
    if (now - lastAt < SDK_ERROR_LOG_INTERVAL_MS) return;
    lastAt = now;
    const code = /\b(E[A-Z]{3,20})\b/.exec(message)?.[1];
    const status = /\bstatus(?: code)?:? ?(\d{3})\b/i.exec(message)?.[1];
    const cause = code ?? (status ? `HTTP ${status}` : 'unknown');
    logger.warn({ component: 'opentelemetry', cause }, 'tracing: the OpenTelemetry SDK reported an error; spans may be lost (is the collector reachable?)');
  };
  const ignore = () => {};
  diag.setLogger(
    { error: (message) => report(String(message)), warn: ignore, info: ignore, debug: ignore, verbose: ignore },
    { logLevel: DiagLogLevel.ERROR, suppressOverrideMessage: true },
  );
}
