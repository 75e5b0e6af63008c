import { getOperationAST, type DocumentNode, type ExecutionResult, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Metrics, Transport } from './metrics.js';
import { errorCodeOf } from './errors.js';

/** `extensions.code` of the first error, `OK` when none. */
export function outcomeCode(result: ExecutionResult | readonly ExecutionResult[] | undefined): string {
  const first = Array.isArray(result) ? result[0] : result;
  const errors = (first as ExecutionResult | undefined)?.errors as readonly GraphQLError[] | undefined;
  if (!errors || errors.length === 0) return 'OK';
  const code = errors[0] ? errorCodeOf(errors[0]) : undefined;
  return typeof code === 'string' && /^[A-Z_]{1,64}$/.test(code) ? code : 'INTERNAL_SERVER_ERROR';
}

const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** `query Name` at the start of a document (comments aside). */
const OPERATION_HEAD = /^(?:\s|#[^\n]*\n)*(query|mutation|subscription)\s+([A-Za-z_][A-Za-z0-9_]*)/;

interface RequestState {
  start: number;
  operation: string;
  type: string;
}

/** An HTTP request's state: named from its parameters only if it never reaches execution. */
interface HttpRequestState {
  start: number;
  /** Set once the document is parsed (onExecute / onSubscribe). */
  described: { operation: string; type: string } | null;
  query: unknown;
  operationName: string | null | undefined;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/**
 * Yoga plugin: counts every GraphQL operation by operation name, type and outcome code with
 * its duration, and counts open subscriptions by transport (HTTP/SSE or graphql-ws). Propagation
 * time is observed by the change feed (`metrics.observeDelivery`), which sees every live change.
 *
 * Works for HTTP requests (timed from parameter parsing to result) and for operations executed
 * through `yoga.getEnveloped` by the graphql-ws server (timed from execute/subscribe).
 */
export function useMetrics(
  metrics: Metrics,
  {
    /** Distinct operation names kept as labels; more are reported as `other`. @default 200 */
    maxOperationNames = 200,
  }: { maxOperationNames?: number } = {},
): Plugin {
  const http = new WeakMap<object, HttpRequestState>();
  const names = new Set<string>();

  const label = (name: string | null | undefined): string => {
    if (!name) return 'anonymous';
    if (names.has(name)) return name;
    if (!OPERATION_NAME.test(name)) return 'invalid';
    // Operation names come from clients: bound the label's cardinality.
    if (names.size >= maxOperationNames) return 'other';
    names.add(name);
    return name;
  };
  const record = (state: RequestState, code: string) => {
    const labels = { operation: state.operation, type: state.type, code };
    metrics.graphqlRequests.inc(labels);
    metrics.graphqlDuration.observe(labels, (performance.now() - state.start) / 1_000);
  };
  const describe = (document: DocumentNode, operationName: string | null | undefined): { operation: string; type: string } => {
    const ast = getOperationAST(document, operationName ?? undefined);
    return { operation: label(ast?.name?.value ?? operationName), type: ast?.operation ?? 'unknown' };
  };
  const requestOf = (context: unknown): object | undefined => {
    const request = (context as { request?: unknown } | null | undefined)?.request;
    return typeof request === 'object' && request !== null ? request : undefined;
  };

  /**
   * The request's labels: from the parsed document, or, when it never got that far (parse and
   * validation errors), from its parameters, so failed operations are still attributed.
   */
  const httpLabels = (state: HttpRequestState): RequestState => {
    if (state.described) return { start: state.start, ...state.described };
    const { query } = state;
    const head = typeof query === 'string' ? OPERATION_HEAD.exec(query) : null;
    return {
      start: state.start,
      operation: label(state.operationName ?? head?.[2]),
      type: head?.[1] ?? (typeof query === 'string' && /^\s*\{/.test(query) ? 'query' : 'unknown'),
    };
  };

  return {
    onParams({ request, params }) {
      http.set(request, { start: performance.now(), described: null, query: params.query, operationName: params.operationName });
    },
    onExecute({ args }) {
      const request = requestOf(args.contextValue);
      const state = request ? http.get(request) : undefined;
      const described = describe(args.document, args.operationName);
      if (state) {
        state.described = described;
        return;
      }
      const started: RequestState = { start: performance.now(), ...described };
      return {
        onExecuteDone({ result }) {
          record(started, isAsyncIterable(result) ? 'OK' : outcomeCode(result));
        },
      };
    },
    onSubscribe({ args }) {
      const request = requestOf(args.contextValue);
      const state = request ? http.get(request) : undefined;
      const described = describe(args.document, args.operationName);
      if (state) state.described = described;
      const started: RequestState = state ? { start: state.start, ...described } : { start: performance.now(), ...described };
      const transport: Transport = state ? 'sse' : 'ws';
      return {
        onSubscribeResult({ result }) {
          if (!state) record(started, isAsyncIterable(result) ? 'OK' : outcomeCode(result as ExecutionResult));
          if (!isAsyncIterable(result)) return;
          const untrack = metrics.trackSubscriber(transport);
          return { onEnd: untrack };
        },
      };
    },
    onResultProcess({ request, result }) {
      const entry = http.get(request);
      if (!entry) return;
      http.delete(request);
      const state = httpLabels(entry);
      if (isAsyncIterable(result)) {
        record(state, 'OK');
        return;
      }
      if (Array.isArray(result)) {
        for (const one of result) record(state, outcomeCode(one));
        return;
      }
      record(state, outcomeCode(result as ExecutionResult));
    },
  };
}
