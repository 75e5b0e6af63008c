/** Every code the gateway raises itself (DESIGN.md "GraphQL contract"). */
export const ERROR_CODES = [
  'BAD_USER_INPUT',
  'VALIDATION_FAILED',
  'NOT_FOUND',
  'VERSION_CONFLICT',
  'REVISION_COMPACTED',
  'REVISION_AHEAD',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'RATE_LIMITED',
  'SERVICE_UNAVAILABLE',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** What a refusal carries beyond its code and message (a field, a limit, the current version). */
export type ErrorDetails = Record<string, string | number | boolean | null | readonly string[]>;

/**
 * An error the gateway raises on purpose: a code, a message a human can act on, details, and the
 * cause. It knows nothing of transports (tRPC's `TRPCError` is the model): the server maps it to
 * a GraphQL error with `extensions: { ...details, code }`, an HTTP status, a graphql-ws or SSE
 * payload or an OFREP answer (src/server/errors.ts); anything else is masked there.
 */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'GatewayError';
    this.code = code;
    this.details = details;
  }
}

/** A `GatewayError`, or its GraphQL form at the edge (which keeps `name`, `code` and `details`). */
export function isGatewayError(error: unknown): error is GatewayError {
  return error instanceof GatewayError || (error instanceof Error && error.name === 'GatewayError' && 'code' in error && 'details' in error);
}

/** Keeps a `GatewayError` as it is; anything else becomes `fallback`, keeping `cause`. */
export function toGatewayError(error: unknown, fallback: ErrorCode = 'SERVICE_UNAVAILABLE'): GatewayError {
  if (isGatewayError(error)) return error;
  return new GatewayError(fallback, fallback === 'SERVICE_UNAVAILABLE' ? 'The gateway cannot serve this request right now' : 'Request failed', {}, error);
}

export const badInput = (message: string, details: ErrorDetails = {}): GatewayError => new GatewayError('BAD_USER_INPUT', message, details);

/** Socket and driver codes that mean "the database or Redis did not answer", not a bug. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  // Our session pool (src/db/session-pool.ts): a deadline passed, or the database refused a
  // moment ago and the pool answers at once instead of queueing the caller.
  'DB_TIMEOUT',
  'DB_UNREACHABLE',
]);

/**
 * SQLSTATE 25006 (read_only_sql_transaction): the server answers but takes no writes. That is a
 * failover in progress (a standby not yet promoted, a demoted primary still reached through a
 * cached DNS name or an old pooled connection) or a database put in read-only mode: unavailable
 * for writes, not a bug.
 */
export const READ_ONLY_SQLSTATE = '25006';

/** Whether `error` or an error in its `cause` chain (drizzle wraps driver errors) has `code`. */
export function hasErrorCode(error: unknown, test: (code: string) => boolean): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && test(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Whether `error` (or any error in its `cause` chain, as drizzle wraps driver errors) says a
 * dependency is unreachable: a socket failure, or a PostgreSQL SQLSTATE of class 08 (connection
 * exception), 53 (insufficient resources), 57P (shutdown, terminated), 55000 (database not
 * accepting connections) or 25006 (read-only: a standby, or a failover in progress).
 */
export function isUnavailableError(error: unknown): boolean {
  return hasErrorCode(error, (code) => UNAVAILABLE_CODES.has(code) || /^(08|53|57P)/.test(code) || code === '55000' || code === READ_ONLY_SQLSTATE);
}
