/** A GraphQL error as it arrives in a response: only what the SDK looks at. */
export interface ResponseError {
  message: string;
  extensions?: { code?: unknown; [name: string]: unknown };
}

/** A failed GraphQL request: transport failure, HTTP failure, or GraphQL errors. */
export class ConfigClientError extends Error {
  /** `extensions.code` of the first GraphQL error, or a transport code (`NETWORK`, `HTTP_<status>`, `TIMEOUT`). */
  readonly code: string;
  readonly errors: readonly ResponseError[];
  constructor(message: string, code: string, errors: readonly ResponseError[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigClientError';
    this.code = code;
    this.errors = errors;
  }
}
