import { GraphQLError, type ASTNode, type Source } from 'graphql';
import { isGatewayError, type GatewayError, type ErrorCode, type ErrorDetails } from '../errors.js';
import { tokenExpired } from '../auth/lifetime.js';

/**
 * The edge's view of a `GatewayError` (src/errors.ts): its HTTP status, and its GraphQL form
 * (`extensions: { ...details, code }`), the shape every transport (GraphQL over HTTP, SSE,
 * graphql-ws, OFREP's own mapping aside) sends to clients. The core raises plain errors; only this
 * file and its callers in src/server know what a client sees.
 */

/** HTTP status used when the error decides the response status (GraphQL over HTTP). */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  BAD_USER_INPUT: 400,
  VALIDATION_FAILED: 400,
  NOT_FOUND: 404,
  VERSION_CONFLICT: 409,
  REVISION_COMPACTED: 410,
  REVISION_AHEAD: 409,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  SERVICE_UNAVAILABLE: 503,
};

/** Where a located error sits in the document (graphql-js' own `GraphQLErrorOptions` subset). */
export interface ErrorLocation {
  nodes?: ReadonlyArray<ASTNode> | ASTNode | null;
  source?: Source;
  positions?: ReadonlyArray<number>;
  path?: ReadonlyArray<string | number>;
}

/**
 * A `GatewayError` in its GraphQL form. It still answers to `isGatewayError` (name, `code`,
 * `details`), so the edge code that reads the code (the WebSocket close codes, OFREP) treats both
 * forms alike, and it has no `originalError`, so masking lets it through as it is.
 */
export class GraphQLGatewayError extends GraphQLError {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, location: ErrorLocation = {}) {
    super(message, { ...location, extensions: { ...details, code } });
    this.name = 'GatewayError';
    this.code = code;
    this.details = details;
  }
}

/** `error` in its GraphQL form (the same object when it already is), placed at `location`. */
export function toGraphQLError(error: GatewayError | GraphQLGatewayError, location?: ErrorLocation): GraphQLGatewayError {
  if (error instanceof GraphQLGatewayError && !location) return error;
  const located = new GraphQLGatewayError(error.code, error.message, error.details, location);
  // An HTTP status the edge already chose (setHttpStatus) goes with it.
  const http = error instanceof GraphQLGatewayError ? error.extensions.http : undefined;
  if (http !== undefined) (located.extensions as Record<string, unknown>).http = http;
  return located;
}

/**
 * The code a client will see for `error`: its `extensions.code`, or, for a resolver's error not
 * yet masked (graphql-js wraps what a resolver throws), the code of the `GatewayError` inside.
 */
export function errorCodeOf(error: { extensions?: Record<string, unknown>; originalError?: unknown }): unknown {
  return error.extensions?.code ?? (isGatewayError(error.originalError) ? error.originalError.code : undefined);
}

/** A refusal the server raises itself, already in its GraphQL form. */
export const gatewayGraphQLError = (code: ErrorCode, message: string, details: ErrorDetails = {}): GraphQLGatewayError =>
  new GraphQLGatewayError(code, message, details);

/** UNAUTHENTICATED for a credential used past its `exp`, in the GraphQL form every transport sends. */
export function tokenExpiredError(): GraphQLGatewayError {
  return toGraphQLError(tokenExpired());
}
