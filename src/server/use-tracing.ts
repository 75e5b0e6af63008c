import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context as otelContext,
  propagation,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import { getOperationAST, type DocumentNode, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { errorType } from '../core/tracing.js';
import type { TraceCarrier } from '../core/types.js';
import { clientTraceId } from './trace.js';
import { isAsyncIterable, type TransportContext } from './transport.js';
import { errorCodeOf } from './errors.js';

/** The request tracing of one yoga instance: its plugin, and the trace id of a request's span. */
export interface RequestTracing {
  plugin: Plugin;
  /**
   * The trace id of the span of a request (`{ request }`, HTTP and SSE) or of a graphql-ws
   * operation (its initial context); undefined when it has none.
   */
  traceIdOf(carrier: object): string | undefined;
}

const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

/** What the plugin reads of an operation's context (yoga's, or graphql-ws' initial context). */
type OperationContext = TransportContext & {
  request?: Request;
  params?: { extensions?: Record<string, unknown> | null };
};

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as PromiseLike<unknown> | null)?.then === 'function';

/** `wrapped()` run inside `ctx`; `done` is called once it finished, with its error if it threw. */
function runIn<T>(ctx: Context, wrapped: () => T, done?: (error?: unknown) => void): T {
  let result: T;
  try {
    result = otelContext.with(ctx, wrapped);
  } catch (error) {
    done?.(error);
    throw error;
  }
  if (!done) return result;
  if (isThenable(result)) {
    return result.then(
      () => done(),
      (error: unknown) => {
        done(error);
        throw error;
      },
    ) as T;
  }
  done();
  return result;
}

/**
 * graphql-ws operations whose span is still open, by their context: how to end it with a result or
 * an error. Module-wide so that the WebSocket endpoint can settle one without knowing the tracing.
 */
const openOperations = new WeakMap<object, (outcome: { result?: unknown; error?: unknown }) => void>();

/**
 * Ends the span of the graphql-ws operation of `context` (if it has one) once `outcome` settles,
 * and returns `outcome` untouched. For the subscriptions that never run a subscribe of their own:
 * one joining a shared execution, one refused by a limit.
 */
export function settleOperation<T>(context: unknown, outcome: T): T {
  const settle = typeof context === 'object' && context !== null ? openOperations.get(context) : undefined;
  if (!settle) return outcome;
  if (isThenable(outcome)) outcome.then((result) => settle({ result }), (error: unknown) => settle({ error }));
  else settle({ result: outcome });
  return outcome;
}

/** The name of an operation's span (GraphQL semantic conventions): `mutation SetConfig`, or its type alone. */
function describe(document: DocumentNode, operationName: string | null | undefined): { type: string | null; name: string | null } {
  const operation = getOperationAST(document, operationName);
  return { type: operation?.operation ?? null, name: operation?.name?.value ?? null };
}

/**
 * One server span per GraphQL request: per HTTP request (a query, a mutation, an SSE
 * subscription's start) under its incoming `traceparent`, and per graphql-ws operation under the
 * `traceparent` of its subscribe message's `extensions`. The resolvers run with it active, so the
 * commit and publish of a mutation are its children. A subscription's span ends once its stream
 * is set up: each change it carries is traced by the change feed, once per gateway rather than
 * once per subscriber.
 *
 * No span records the document, variables or results (they carry values); an operation is
 * described by its type and name, the response by its status and error codes.
 */
export function createRequestTracing({ tracer }: { tracer: Tracer }): RequestTracing {
  /** Keyed by the HTTP `Request`, or by a graphql-ws operation's initial context. */
  const spans = new WeakMap<object, Span>();
  const spanOf = (context: OperationContext): Span | undefined => spans.get(context) ?? (context.request ? spans.get(context.request) : undefined);
  /** graphql-ws operations: their span ends with their execute or subscribe (or a refusal before it). */
  const operationSpans = new WeakSet<Span>();

  const end = (span: Span | undefined, error?: unknown) => {
    if (!span || !span.isRecording()) return;
    if (error !== undefined) {
      span.setAttribute('error.type', errorType(error));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  };

  const recordResult = (span: Span | undefined, result: ExecutionResult | AsyncIterable<ExecutionResult>) => {
    if (!span?.isRecording() || isAsyncIterable(result) || !result.errors?.length) return;
    const codes = new Set<string>();
    for (const error of result.errors) {
      const code = errorCodeOf(error);
      codes.add(typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR');
    }
    span.setAttribute('hotconf.graphql.error_codes', [...codes].sort());
    // A refusal is the caller's; the gateway failing (a bug, a dependency away) is an error.
    if (codes.has('INTERNAL_SERVER_ERROR') || codes.has('SERVICE_UNAVAILABLE')) span.setStatus({ code: SpanStatusCode.ERROR });
  };

  const name = (span: Span | undefined, document: DocumentNode, operationName: string | null | undefined) => {
    if (!span) return;
    const { type, name: opName } = describe(document, operationName);
    if (type) span.setAttribute('graphql.operation.type', type);
    if (opName) span.setAttribute('graphql.operation.name', opName);
    span.updateName(type ? (opName ? `${type} ${opName}` : type) : 'GraphQL Operation');
  };

  const plugin: Plugin = {
    instrumentation: {
      request({ request }, wrapped) {
        const parent = propagation.extract(ROOT_CONTEXT, request.headers, headerGetter);
        const url = new URL(request.url, 'http://localhost');
        const sse = request.headers.get('accept')?.includes('text/event-stream') ?? false;
        const span = tracer.startSpan(
          'GraphQL Operation',
          {
            kind: SpanKind.SERVER,
            attributes: { 'http.request.method': request.method, 'url.path': url.pathname, 'hotconf.transport': sse ? 'sse' : 'http' },
          },
          parent,
        );
        // Without a traceparent the span starts a trace, and its id is the request's trace id
        // (logged, echoed, stored in history); a caller's own x-trace-id is kept alongside it.
        if (!trace.getSpan(parent)) {
          const given = clientTraceId(request.headers);
          if (given) span.setAttribute('hotconf.request.x_trace_id', given);
        }
        spans.set(request, span);
        return runIn(trace.setSpan(parent, span), wrapped, (error) => end(span, error));
      },
      init({ context }, wrapped) {
        const operation = context as OperationContext;
        if (operation.transport === 'graphql-ws' && !spans.has(operation)) {
          const extensions = operation.params?.extensions;
          const carrier: TraceCarrier = {};
          if (typeof extensions?.traceparent === 'string') carrier.traceparent = extensions.traceparent;
          if (typeof extensions?.tracestate === 'string') carrier.tracestate = extensions.tracestate;
          const parent = carrier.traceparent ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
          const span = tracer.startSpan('GraphQL Operation', { kind: SpanKind.SERVER, attributes: { 'hotconf.transport': 'graphql-ws' } }, parent);
          spans.set(operation, span);
          operationSpans.add(span);
          openOperations.set(operation, ({ result, error }) => {
            if (result !== undefined && typeof result === 'object' && result !== null) recordResult(span, result as ExecutionResult);
            end(span, error);
          });
        }
        wrapped();
      },
      // graphql-ws runs parse, validate and execution outside any HTTP request: each phase runs
      // with the operation's span active, and a refusal before execution ends it.
      parse({ context }, wrapped) {
        const span = spanOf(context as OperationContext);
        if (!span || !operationSpans.has(span)) return wrapped();
        return runIn(trace.setSpan(otelContext.active(), span), wrapped, (error) => error !== undefined && end(span, error));
      },
      execute({ context }, wrapped) {
        const span = spanOf(context as OperationContext);
        if (!span || !operationSpans.has(span)) return wrapped();
        return runIn(trace.setSpan(otelContext.active(), span), wrapped, (error) => end(span, error));
      },
      subscribe({ context }, wrapped) {
        const span = spanOf(context as OperationContext);
        if (!span || !operationSpans.has(span)) return wrapped();
        return runIn(trace.setSpan(otelContext.active(), span), wrapped, (error) => end(span, error));
      },
    },
    onValidate({ context, params }) {
      return ({ valid }) => {
        const operation = context as OperationContext & { params?: { operationName?: string | null } };
        const span = spanOf(operation);
        if (!span) return;
        // Named here, before execution: a subscription that joins a shared execution runs none.
        name(span, params.documentAST, operation.params?.operationName);
        if (valid) return;
        span.setAttribute('hotconf.graphql.error_codes', ['GRAPHQL_VALIDATION_FAILED']);
        if (operationSpans.has(span)) end(span);
      };
    },
    onExecute({ args }) {
      const span = spanOf(args.contextValue as OperationContext);
      name(span, args.document, args.operationName);
      return { onExecuteDone: ({ result }) => recordResult(span, result) };
    },
    onSubscribe({ args }) {
      const span = spanOf(args.contextValue as OperationContext);
      name(span, args.document, args.operationName);
      return { onSubscribeResult: ({ result }) => recordResult(span, result) };
    },
    onResponse({ request, response }) {
      const span = spans.get(request);
      if (!span) return;
      span.setAttribute('http.response.status_code', response.status);
      if (response.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    },
  };

  return {
    plugin,
    traceIdOf(carrier) {
      return spanOf(carrier as OperationContext)?.spanContext().traceId;
    },
  };
}
