import { pino, type Logger } from 'pino';

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

/**
 * The process logger: JSON lines (pino), secret-bearing fields redacted.
 * @example createLogger({ level: 'info' }).info({ namespace }, 'config changed')
 */
export function createLogger({ level = 'info', destination }: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'hotconf' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
