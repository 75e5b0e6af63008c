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
  const http = new WeakMap<object, RequestState>();
  const names = new Set<string>();

  const label = (name: string | null | undefined): string => {
    if (!name) return 'anonymous';
    if (!OPERATION_NAME.test(name)) return 'invalid';
    if (names.has(name)) return name;
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

  return {
    onParams({ request, params }) {
      // Until the document is parsed (it may never be: parse and validation errors), the name
      // and type come from the request, so failed operations are still attributed.
      const head = typeof params.query === 'string' ? OPERATION_HEAD.exec(params.query) : null;
      http.set(request, {
        start: performance.now(),
        operation: label(params.operationName ?? head?.[2]),
        type: head?.[1] ?? (typeof params.query === 'string' && /^\s*\{/.test(params.query) ? 'query' : 'unknown'),
      });
    },
    onExecute({ args }) {
      const request = requestOf(args.contextValue);
      const state = request ? http.get(request) : undefined;
      const described = describe(args.document, args.operationName);
      if (state) {
        Object.assign(state, described);
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
      if (state) Object.assign(state, described);
      const started: RequestState = state ?? { start: performance.now(), ...described };
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
      const state = http.get(request);
      if (!state) return;
      http.delete(request);
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
