/** The webhook's logger: pino JSON (default) or a one-line text form, with verbosity from klog's -v. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createLogger, REDACTED_PATHS, type Logger } from '../log.js';

/** klog verbosity → pino level: V(3) mutation lines are debug, V(4) access lines trace. */
export function levelForVerbosity(v: number): string {
  if (process.env.OPENIRSA_LOG_LEVEL) return process.env.OPENIRSA_LOG_LEVEL;
  return v >= 4 ? 'trace' : v >= 3 ? 'debug' : 'info';
}

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** `2026-01-01T00:00:00.000Z INFO message key=value ...` */
export function formatTextLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, component: _c, ...rest } = o;
  const kv = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s|"/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- pino writes msg as a string
  return `${String(time)} ${LEVELS[level as number] ?? String(level)} ${String(msg ?? '')}${kv ? ' ' + kv : ''}\n`;
}

export function createWebhookLogger(format: 'json' | 'text', verbosity: number): Logger {
  const level = levelForVerbosity(verbosity);
  if (format === 'json') return createLogger({ name: 'webhook', level });
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const text = chunk
        .toString('utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map(formatTextLine)
        .join('');
      process.stderr.write(text, () => cb());
    },
  });
  return pino(
    {
      level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { component: 'webhook' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    out,
  );
}
