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
