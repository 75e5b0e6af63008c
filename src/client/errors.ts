/** A GraphQL error as it arrives in a response: only what the SDK looks at. */
export interface ResponseError {
  message: string;
  extensions?: { code?: unknown; [name: string]: unknown };
}

/**
 * Everything the config client reports: a failed request or connection, a refusal, a timeout.
 * `message` names the URL and the cause; `cause` keeps the underlying error when there is one.
 */
export class ConfigClientError extends Error {
  /**
   * `extensions.code` of the first GraphQL error (`UNAUTHENTICATED`, `FORBIDDEN`,
   * `BAD_USER_INPUT`, `REVISION_COMPACTED`, …), or what the transport saw: a system or TLS error
   * code (`ECONNREFUSED`, `ENOTFOUND`, `ECONNRESET`, `CERT_HAS_EXPIRED`, …, else `NETWORK`), `HTTP_<status>` (a wrong
   * path is `HTTP_404`), `INVALID_RESPONSE` (an answer that is not what a hotconf gateway sends), `TIMEOUT`, `PONG_TIMEOUT`, `CLOSE_<code>` (a WebSocket close),
   * `INCOMPLETE_REVISION`; or the client's own: `TOKEN_UNAVAILABLE` (the token function failed),
   * `FALLBACK_WRITE`, `LISTENER` (a listener threw), `CLOSED`.
   */
  readonly code: string;
  readonly errors: readonly ResponseError[];
  constructor(message: string, code: string, errors: readonly ResponseError[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigClientError';
    this.code = code;
    this.errors = errors;
  }
}
