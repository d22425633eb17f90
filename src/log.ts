import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Paths that must never reach a log line: token material and AWS secrets. pino replaces them with
 * "[redacted]" wherever a caller passes them as structured fields.
 */
export const REDACTED_PATHS = [
  'token',
  'webIdentityToken',
  'WebIdentityToken',
  'secretAccessKey',
  'SecretAccessKey',
  'sessionToken',
  'SessionToken',
  'privateKey',
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'headers["x-amz-security-token"]',
];

/** Structured JSON logs to stderr (stdout stays free for command output). */
export function createLogger(options: LoggerOptions & { name: string }): Logger {
  return pino(
    {
      level: process.env.OPENIRSA_LOG_LEVEL ?? 'info',
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { component: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      ...options,
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
