import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Tracer } from '@opentelemetry/api';
import { GraphQLError, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { ERROR_CODES, isGatewayError, isUnavailableError, type ErrorCode } from '../errors.js';
import type { Guard, Principal } from '../core/types.js';
import type { GatewayServices, GraphQLContext } from '../graphql/context.js';
import type { Logger } from '../logger.js';
import { GRAPHIQL_OPTIONS, renderOfflineGraphiQL } from './graphiql.js';
import { newTraceId, traceIdFrom } from './trace.js';
import { isAsyncIterable, useEndUnsentStreams, type TransportContext } from './transport.js';
import { GraphQLGatewayError, toGraphQLError } from './errors.js';
import { INVALID_TOKEN_CHALLENGE, setHttpStatus } from './use-operation-limits.js';
import { createRequestTracing } from './use-tracing.js';
import { useTokenLifetime } from './use-token-lifetime.js';
import { useURLParamsErrors } from './use-url-params.js';
import { useProjectedPages } from '../graphql/page-projection.js';
import { useProjectedSubscriptions } from '../graphql/projection.js';

export interface ServerContext {
  req: IncomingMessage;
  res: ServerResponse;
}

/** What a transport may hand the context factory beyond yoga's own request. */
interface InitialContext extends TransportContext {
  request?: Request;
  /** graphql-ws: the `connection_init` payload. */
  connectionParams?: Record<string, unknown>;
  /** graphql-ws: the caller, already verified in `onConnect`. */
  principal?: Principal | null;
  traceId?: string;
}

export type GatewayYoga = YogaServerInstance<ServerContext, GraphQLContext>;

export interface YogaOptions {
  schema: GraphQLSchema;
  services: GatewayServices;
  /** Verifies an `Authorization` value; null when there is none. Throws UNAUTHENTICATED. */
  authenticate: (authorization: string | null) => Promise<Principal | null>;
  /** The guard of a caller; a pure function of the principal (the gateway keeps one per principal). */
  guardFor: (principal: Principal | null) => Guard;
  logger: Logger;
  /** GraphiQL at /graphql in a browser. @default false */
  graphiql?: boolean;
  plugins?: Plugin[];
  /**
   * One span per request and per graphql-ws operation, under the caller's `traceparent`; the
   * request's trace id is then its span's (docs/TRACING.md). @default undefined (tracing off)
   */
  tracer?: Tracer;
}

/** `Authorization` from an HTTP header or from a graphql-ws `connection_init` payload. */
export function authorizationFrom(initial: InitialContext): string | null {
  const params = initial.connectionParams;
  const fromParams = params?.authorization ?? params?.Authorization;
  if (typeof fromParams === 'string') return fromParams;
  return initial.request?.headers.get('authorization') ?? null;
}

/** Codes that mean "the caller's request was refused", not "the gateway failed" (DESIGN.md "Errors"). */
const EXPECTED_CODES: ReadonlySet<string> = new Set<string>([
  ...ERROR_CODES.filter((code: ErrorCode) => code !== 'SERVICE_UNAVAILABLE'),
  // graphql-js and yoga's own refusals of a document or a request.
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
]);

const isGraphQLErrorLike = (value: unknown): value is GraphQLError =>
  value instanceof GraphQLError || (value instanceof Error && (value.name === 'GraphQLError' || value.name === 'GatewayError'));

/**
 * Whether `value` is a refusal the gateway meant to give (a `GatewayError` other than
 * SERVICE_UNAVAILABLE, or a GraphQL error about the request such as a parse, validation or
 * coercion error), as opposed to a failure that wraps an unexpected error.
 */
export function isExpectedRefusal(value: unknown): boolean {
  for (let current: unknown = value, depth = 0; depth < 8; depth++) {
    if (isGatewayError(current)) return current.code !== 'SERVICE_UNAVAILABLE';
    if (!isGraphQLErrorLike(current)) return false;
    if (!current.originalError) {
      const code = current.extensions?.code;
      return code === undefined || (typeof code === 'string' && EXPECTED_CODES.has(code));
    }
    current = current.originalError;
  }
  return false;
}

/** What a refusal's log line may carry: its code and where it happened, never the input. */
function refusalSummary(value: unknown): { code: string | null; path: ReadonlyArray<string | number> | null } {
  const error = isGraphQLErrorLike(value) ? value : null;
  const original = error?.originalError ?? value;
  const code = error?.extensions?.code ?? (isGatewayError(original) ? original.code : null);
  return { code: typeof code === 'string' ? code : null, path: (error as { path?: ReadonlyArray<string | number> } | null)?.path ?? null };
}

/**
 * Turns the errors of a request that could not start (graphql-js "request errors": a variable
 * of the wrong type, a missing required variable, an unknown input field, a scalar's
 * `parseValue` refusing a value) into `BAD_USER_INPUT`,
 * over every transport. Such a result has no `data`; field errors always have a `path`, so a
 * subscription whose resolver refused is left as it is. Over HTTP the status follows the GraphQL
 * over HTTP spec: 400 with `application/graphql-response+json`, 200 with `application/json`.
 */
export function useRequestErrorCodes(): Plugin {
  const recode = <R>(result: R): R => {
    if (isAsyncIterable(result) || typeof result !== 'object' || result === null || 'data' in result) return result;
    const errors = (result as ExecutionResult).errors;
    if (!errors?.length || errors.some((error) => error.path !== undefined)) return result;
    // An error that names another code (OPERATION_RESOLUTION_FAILURE) keeps it; the rest are
    // coercion errors, with no code or a scalar's own BAD_USER_INPUT.
    const recoded = errors.map((error) => {
      const code = error.extensions?.code;
      return typeof code === 'string' && code !== 'BAD_USER_INPUT' ? error : badUserInput(error);
    });
    return { ...result, errors: recoded };
  };
  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn((args) => mapMaybePromise(executeFn(args), recode));
    },
    onSubscribe({ subscribeFn, setSubscribeFn }) {
      setSubscribeFn((args) => mapMaybePromise(subscribeFn(args), recode));
    },
  };
}

/** `f(value)`, after `value` resolves when it is a promise: a synchronous result stays synchronous. */
function mapMaybePromise<T, R>(value: T | PromiseLike<T>, f: (resolved: T) => R): R | Promise<R> {
  const thenable = value as PromiseLike<T>;
  return typeof thenable?.then === 'function' ? Promise.resolve(thenable).then(f) : f(value as T);
}

function badUserInput(error: GraphQLError): GraphQLError {
  const original = error.originalError;
  // A scalar that refused with its own GraphQL error (a limit, say) keeps its extensions.
  const { http: _http, ...kept } = (isGraphQLErrorLike(original) ? original.extensions : {}) as Record<string, unknown>;
  // The message already says which variable and why (the scalar's own message included); the
  // original error is dropped so nothing treats a refused input as an unexpected failure.
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    extensions: { ...kept, code: 'BAD_USER_INPUT', http: { spec: true, status: 400 } },
  });
}

/** graphql-yoga for HTTP (GET/POST, GraphQL over HTTP) and SSE; graphql-ws reuses its envelop. */
export function createGatewayYoga({
  schema,
  services,
  authenticate,
  guardFor,
  logger,
  graphiql = false,
  plugins = [],
  tracer,
}: YogaOptions): GatewayYoga {
  const tracing = tracer ? createRequestTracing({ tracer }) : null;
  // A verified token yields the same principal object until it leaves the token cache, so its
  // guard is built once, not per request.
  const guards = new WeakMap<Principal, Guard>();
  let anonymousGuard: Guard | undefined;
  const guardOf = (principal: Principal | null): Guard => {
    if (principal === null) return (anonymousGuard ??= guardFor(null));
    let guard = guards.get(principal);
    if (!guard) guards.set(principal, (guard = guardFor(principal)));
    return guard;
  };
  const traceIds = new WeakMap<Request, string>();
  const echoTraceId: Plugin = {
    onRequest({ request }) {
      traceIds.set(request, tracing?.traceIdOf({ request }) ?? traceIdFrom(request.headers));
    },
    onResponse({ request, response }) {
      const traceId = traceIds.get(request);
      if (traceId) response.headers.set('x-trace-id', traceId);
    },
  };

  // Unexpected errors maskError has logged with their correlation id: yoga would log them again.
  const reported = new WeakSet<object>();
  const logYogaError = (...args: unknown[]) => {
    for (const arg of args) {
      if (typeof arg === 'object' && arg !== null && reported.has(arg)) continue;
      // Refusals reach here because maskError rebuilds them; they are the caller's, not ours.
      // Its code and path only: messages and extensions describe the caller's input (a coercion
      // message quotes the variable, a schema failure names the value's object keys), which may
      // be a secret.
      if (isExpectedRefusal(arg)) logger.debug({ refusal: refusalSummary(arg) }, 'request refused');
      else logger.error({ err: arg }, 'yoga');
    }
  };

  return createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: graphiql ? GRAPHIQL_OPTIONS : false,
    renderGraphiQL: renderOfflineGraphiQL,
    batching: false,
    // Off: yoga's limit pipes every body through a TransformStream into a new Request (a stream
    // pipeline, an AbortController and a DOMException per request). The HTTP server in front
    // (http.ts) refuses a body over HOTCONF_MAX_BODY_BYTES from its Content-Length, and a body
    // without one with 411; Node's parser never reads past a declared length.
    maxRequestBodySize: false,
    logging: {
      debug: (...args) => logger.debug({ args }, 'yoga'),
      info: (...args) => logger.info({ args }, 'yoga'),
      warn: (...args) => logger.warn({ args }, 'yoga'),
      error: logYogaError,
    },
    maskedErrors: {
      // Our own errors (GatewayError, in their GraphQL form: extensions.code and details) and
      // graphql's parse/validation errors pass; anything else is logged with a correlation id
      // and reaches the client as a generic error.
      maskError(error, message) {
        if (error instanceof GraphQLGatewayError) return error;
        if (isGatewayError(error)) return toGraphQLError(error);
        const original = error instanceof GraphQLError ? error.originalError : error;
        if (isGatewayError(original)) return toGraphQLError(original, { ...(error as GraphQLError) });
        if (error instanceof GraphQLError && (!original || original instanceof GraphQLError)) return error;
        const correlationId = randomUUID();
        const path = error instanceof GraphQLError ? error.path : undefined;
        for (const logged of [error, original]) if (typeof logged === 'object' && logged !== null) reported.add(logged);
        if (isUnavailableError(original)) {
          // An outage, not a bug: the client should retry (the SDK does, with backoff).
          logger.warn({ err: original, correlationId, path }, 'dependency unavailable');
          return new GraphQLError('The configuration store is not reachable right now; retry shortly', {
            path,
            extensions: { code: 'SERVICE_UNAVAILABLE', correlationId },
          });
        }
        logger.error({ err: original, correlationId, path }, 'unexpected error');
        return new GraphQLError(message, {
          path: error instanceof GraphQLError ? error.path : undefined,
          extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId },
        });
      },
    },
    plugins: [useProjectedPages(), useProjectedSubscriptions(), ...(tracing ? [tracing.plugin] : []), echoTraceId, useURLParamsErrors(), useRequestErrorCodes(), useTokenLifetime(), ...plugins, useEndUnsentStreams()],
    context: async (initial: InitialContext): Promise<GraphQLContext> => {
      const principal = initial.principal !== undefined ? initial.principal : await authenticateRequest(authenticate, authorizationFrom(initial));
      const traceId =
        initial.traceId ?? tracing?.traceIdOf(initial) ?? (initial.request ? traceIds.get(initial.request) : undefined) ?? newTraceId();
      return { ...services, principal, guard: guardOf(principal), traceId };
    },
  });
}

/**
 * Verifies the request's token. A refusal decides the whole response: UNAUTHENTICATED is HTTP
 * 401 with a `WWW-Authenticate` challenge (GraphQL over HTTP: no `data`, so 4xx), a JWKS that
 * cannot be fetched 503.
 */
async function authenticateRequest(authenticate: YogaOptions['authenticate'], authorization: string | null): Promise<Principal | null> {
  try {
    return await authenticate(authorization);
  } catch (error) {
    if (!isGatewayError(error)) throw error;
    const refusal = toGraphQLError(error);
    setHttpStatus(refusal, error.code === 'UNAUTHENTICATED' ? { 'WWW-Authenticate': INVALID_TOKEN_CHALLENGE } : undefined);
    throw refusal;
  }
}
