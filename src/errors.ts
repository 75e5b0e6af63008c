import { GraphQLError } from 'graphql';

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

export type ErrorExtensions = Record<string, string | number | boolean | null | readonly string[]>;

/**
 * An error the gateway raises on purpose. Reaches clients as a `GraphQLError` with
 * `extensions.code`; anything else is masked.
 */
export class GatewayError extends GraphQLError {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, extensions: ErrorExtensions = {}, cause?: unknown) {
    super(message, { extensions: { ...extensions, code }, originalError: cause instanceof Error ? cause : undefined });
    this.name = 'GatewayError';
    this.code = code;
  }
}

export function isGatewayError(error: unknown): error is GatewayError {
  return error instanceof GatewayError || (error instanceof Error && error.name === 'GatewayError' && 'code' in error);
}

/** Keeps a `GatewayError` as it is; anything else becomes `fallback`, keeping `cause`. */
export function toGatewayError(error: unknown, fallback: ErrorCode = 'SERVICE_UNAVAILABLE'): GatewayError {
  if (isGatewayError(error)) return error;
  return new GatewayError(fallback, fallback === 'SERVICE_UNAVAILABLE' ? 'The gateway cannot serve this request right now' : 'Request failed', {}, error);
}

export const badInput = (message: string, extensions: ErrorExtensions = {}): GatewayError =>
  new GatewayError('BAD_USER_INPUT', message, extensions);

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
 * Whether `error` (or any error in its `cause` chain, as drizzle wraps driver errors) says a
 * dependency is unreachable: a socket failure, or a PostgreSQL SQLSTATE of class 08 (connection
 * exception), 53 (insufficient resources), 57P (shutdown, terminated) or 55000 (database not
 * accepting connections).
 */
export function isUnavailableError(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || /^(08|53|57P)/.test(code) || code === '55000')) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
