import { pino, type Logger } from 'pino';
import { isGatewayError } from './errors.js';

export type { Logger };

/** Keys whose values never reach a log line, wherever they appear in a logged object. */
const REDACT_PATHS = [
  'value',
  '*.value',
  'previous',
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'token',
  '*.token',
  'connectionParams',
  'variables',
];

/** An error as it may be logged: what it is and where it came from, never what it was about. */
export interface SafeError {
  type: string;
  /** SQLSTATE, Node or driver error code, or the gateway's error code. */
  code?: string | number;
  /** Only from sources whose messages are known not to quote data (see `serializeError`). */
  message?: string;
  /** Present when the message was left out because it may quote a value. */
  messageOmitted?: true;
  /** PostgreSQL's own context: names, never data. */
  severity?: string;
  routine?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
  dataType?: string;
  /** Node system errors. */
  syscall?: string;
  address?: string;
  port?: number;
  /** Stack frames (the first line, which repeats the message, is left out). */
  stack?: string[];
  cause?: SafeError;
}

/*
 * PostgreSQL messages of these SQLSTATE classes name objects (tables, constraints, columns) and
 * states, never data: 08 connection, 0A not supported, 23 integrity (the row is in `detail`,
 * which is never logged), 25 transaction state, 28 authorization, 3D/3F missing database or
 * schema, 40 rollback (serialization, deadlock), 42 syntax or access (our SQL text; values are
 * parameters), 53 resources, 55 object state, 57 operator intervention. Class 22 (data
 * exception) quotes values in message, `detail` and `where`: the 22P02 of a lone surrogate
 * quoted a secret. Every other class is logged by code only.
 */
const SAFE_SQLSTATE_CLASSES = new Set(['08', '0A', '23', '25', '28', '3D', '3F', '40', '42', '53', '55', '57']);

/** V8 TypeError messages that describe code (property names, expressions), not data. */
const SAFE_TYPE_ERROR_RE = [
  /^Cannot read properties of (?:null|undefined) \(reading '[^']{0,100}'\)$/,
  /^Cannot set properties of (?:null|undefined) \(setting '[^']{0,100}'\)$/,
  /^[\w$.[\]]{1,100} is not (?:a function|iterable|a constructor|defined)$/,
];

/** A postgres.js client-side code (`CONNECTION_CLOSED`, `UNDEFINED_VALUE`): fixed messages plus host:port. */
const DRIVER_CODE_RE = /^[A-Z][A-Z_]+$/;

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * Serialises an error for the log keeping only fields that cannot carry a config value, a token
 * or a query parameter: its type and code, PostgreSQL's names (table, constraint, routine),
 * socket details, stack frames, its cause; the message only from sources whose messages are
 * known to be fixed texts (the gateway's own errors, PostgreSQL classes that quote no data,
 * socket and driver connection errors, V8 range errors and a few TypeError shapes). Never
 * `detail`, `where`, `hint`, `query`, `parameters`, nor a GraphQL coercion message (which quotes
 * the variable's value).
 */
export function serializeError(error: unknown, depth = 0): SafeError {
  if (error === null || typeof error !== 'object') return { type: typeof error };
  const e = error as Record<string, unknown>;
  const type = str(e.name) ?? str(e.constructor?.name) ?? 'Object';
  const out: SafeError = { type };
  const code = typeof e.code === 'string' || typeof e.code === 'number' ? e.code : undefined;
  const message = str(e.message);
  let keepMessage = false;

  if (isGatewayError(error)) {
    // Our own texts: they name keys, limits and rules, never values (validation.ts, json-schema.ts).
    out.code = error.code;
    keepMessage = true;
  } else if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && str(e.severity)) {
    out.code = code;
    out.severity = str(e.severity);
    out.routine = str(e.routine);
    out.schema = str(e.schema_name);
    out.table = str(e.table_name);
    out.column = str(e.column_name);
    out.constraint = str(e.constraint_name);
    out.dataType = str(e.data_type_name);
    keepMessage = SAFE_SQLSTATE_CLASSES.has(code.slice(0, 2));
  } else {
    if (code !== undefined) out.code = code;
    if (str(e.syscall)) {
      out.syscall = str(e.syscall);
      out.address = str(e.address);
      if (typeof e.port === 'number') out.port = e.port;
      keepMessage = true;
    } else if (typeof code === 'string' && DRIVER_CODE_RE.test(code)) {
      keepMessage = true;
    } else if (error instanceof RangeError || error instanceof ReferenceError) {
      keepMessage = true;
    } else if (error instanceof TypeError) {
      keepMessage = message !== undefined && SAFE_TYPE_ERROR_RE.some((re) => re.test(message));
    }
  }
  if (message !== undefined) {
    if (keepMessage) out.message = message.slice(0, 500);
    else out.messageOmitted = true;
  }
  for (const [field, value] of Object.entries(out)) if (value === undefined) delete out[field as keyof SafeError];
  const stack = str(e.stack);
  if (stack) {
    out.stack = stack
      .split('\n')
      .filter((line) => /^\s+at /.test(line))
      .slice(0, 12)
      .map((line) => line.trim());
  }
  if (e.cause !== undefined && depth < 3) out.cause = serializeError(e.cause, depth + 1);
  // graphql-js wraps resolver errors: what went wrong is the original error.
  else if (e.originalError instanceof Error && depth < 3) out.cause = serializeError(e.originalError, depth + 1);
  return out;
}

/** Logged argument lists (yoga's logger): errors made safe, strings kept, anything else by type only. */
function serializeArgs(args: unknown): unknown {
  if (!Array.isArray(args)) return serializeArgs([args]);
  return args.map((arg) => (typeof arg === 'string' ? arg.slice(0, 500) : arg instanceof Error ? serializeError(arg) : { type: typeof arg }));
}

/**
 * The process logger: JSON lines (pino), secret-bearing fields redacted, errors serialised by
 * `serializeError` under `err`, `error` and `args`.
 * @example createLogger({ level: 'info' }).info({ namespace }, 'config changed')
 */
export function createLogger({ level = 'info', destination }: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'hotconf' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError, error: serializeError, args: serializeArgs },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
