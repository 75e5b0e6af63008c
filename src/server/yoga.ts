import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { isGatewayError, isUnavailableError } from '../errors.js';
import type { Guard, Principal } from '../core/types.js';
import type { GatewayServices, GraphQLContext } from '../graphql/context.js';
import type { Logger } from '../logger.js';
import { GRAPHIQL_OPTIONS, renderOfflineGraphiQL } from './graphiql.js';
import { traceIdFrom } from './trace.js';

export interface ServerContext {
  req: IncomingMessage;
  res: ServerResponse;
}

/** What a transport may hand the context factory beyond yoga's own request. */
interface InitialContext {
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
  guardFor: (principal: Principal | null) => Guard;
  logger: Logger;
  /** GraphiQL at /graphql in a browser. @default false */
  graphiql?: boolean;
  plugins?: Plugin[];
}

/** `Authorization` from an HTTP header or from a graphql-ws `connection_init` payload. */
export function authorizationFrom(initial: InitialContext): string | null {
  const params = initial.connectionParams;
  const fromParams = params?.authorization ?? params?.Authorization;
  if (typeof fromParams === 'string') return fromParams;
  return initial.request?.headers.get('authorization') ?? null;
}

/** graphql-yoga for HTTP (GET/POST, GraphQL over HTTP) and SSE; graphql-ws reuses its envelop. */
export function createGatewayYoga({ schema, services, authenticate, guardFor, logger, graphiql = false, plugins = [] }: YogaOptions): GatewayYoga {
  const traceIds = new WeakMap<Request, string>();
  const echoTraceId: Plugin = {
    onRequest({ request }) {
      traceIds.set(request, traceIdFrom(request.headers));
    },
    onResponse({ request, response }) {
      const traceId = traceIds.get(request);
      if (traceId) response.headers.set('x-trace-id', traceId);
    },
  };

  return createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: graphiql ? GRAPHIQL_OPTIONS : false,
    renderGraphiQL: renderOfflineGraphiQL,
    batching: false,
    logging: {
      debug: (...args) => logger.debug({ args }, 'yoga'),
      info: (...args) => logger.info({ args }, 'yoga'),
      warn: (...args) => logger.warn({ args }, 'yoga'),
      error: (...args) => logger.error({ args }, 'yoga'),
    },
    maskedErrors: {
      // Our own errors (GatewayError) and graphql's parse/validation errors pass; anything
      // else is logged with a correlation id and reaches the client as a generic error.
      maskError(error, message) {
        if (isGatewayError(error)) return error;
        const original = error instanceof GraphQLError ? error.originalError : error;
        if (isGatewayError(original)) return new GraphQLError(original.message, { ...(error as GraphQLError), extensions: original.extensions });
        if (error instanceof GraphQLError && (!original || original instanceof GraphQLError)) return error;
        const correlationId = randomUUID();
        const path = error instanceof GraphQLError ? error.path : undefined;
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
    plugins: [echoTraceId, ...plugins],
    context: async (initial: InitialContext): Promise<GraphQLContext> => {
      const principal = initial.principal !== undefined ? initial.principal : await authenticate(authorizationFrom(initial));
      const traceId = initial.traceId ?? (initial.request ? traceIds.get(initial.request) : undefined) ?? randomUUID().replace(/-/g, '');
      return { ...services, principal, guard: guardFor(principal), traceId };
    },
  });
}
