/** Exit codes scripts can rely on (also listed in `hotconf --help`). */
export const EXIT = {
  OK: 0,
  /** Bad command line: unknown command or option, missing argument, unreadable file. */
  USAGE: 1,
  /** The key, version or flag does not exist. */
  NOT_FOUND: 2,
  /** `--expect-version` did not match (VERSION_CONFLICT). */
  CONFLICT: 3,
  /** No token, an invalid token, or not allowed (UNAUTHENTICATED, FORBIDDEN). */
  AUTH: 4,
  /** The gateway cannot be reached or failed (SERVICE_UNAVAILABLE, RATE_LIMITED, internal errors). */
  UNAVAILABLE: 5,
  /** The gateway refused the input (BAD_USER_INPUT, VALIDATION_FAILED, REVISION_*). */
  INVALID: 6,
  /** `diff`, `import --dry-run`: differences found; `convergence --check`: not converged. */
  DIFFERENT: 7,
} as const;

/** An error that ends the command with a given exit code and a one-line message on stderr. */
export class CliError extends Error {
  readonly exitCode: number;
  /** The gateway's `extensions.code`, or a transport code. */
  readonly code: string | undefined;
  readonly extensions: Readonly<Record<string, unknown>> | undefined;

  constructor(message: string, exitCode: number, code?: string, extensions?: Readonly<Record<string, unknown>>) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.code = code;
    this.extensions = extensions;
  }
}

export const usage = (message: string): CliError => new CliError(message, EXIT.USAGE, 'USAGE');
