/**
 * Logs: JSON lines on stdout (journald collects them), or readable lines when stdout is a terminal.
 * pino's `redact` is a second layer; credentials are `Secret`s and are never passed to the logger.
 */
import { pino, type Logger } from 'pino';
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import { parseJson } from '../json/parse-json.js';

export type { Logger } from 'pino';

const levelNames: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** A line pino writes: a JSON object. */
const LogLine = z.record(z.string(), z.unknown());

/** A writable that turns pino's JSON lines into `HH:MM:SS LEVEL message key=value…`. */
function humanStream(write: (text: string) => void): { write(line: string): void } {
  return {
    write(line) {
      // pino's own lines; anything else (not a JSON object) is passed through as it is.
      const parsed = parseJson(LogLine, line);
      if (!parsed.success) {
        write(line);
        return;
      }
      const { level, time, msg, pid: _p, hostname: _h, ...rest } = parsed.data;
      const when = new Date(typeof time === 'number' ? time : Date.now()).toISOString().slice(11, 19);
      const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
      write(`${when} ${(levelNames[Number(level)] ?? String(level)).padEnd(5)} ${typeof msg === 'string' ? msg : JSON.stringify(msg ?? '')}${fields === '' ? '' : ` ${fields}`}\n`);
    },
  };
}

/** The log levels resolver accepts (`--log-level`, `logLevel` in the config), quietest last. */
export const logLevels = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof logLevels)[number];

/**
 * Checks a log level given by a person.
 * @throws ResolverError ERR_USAGE naming the allowed values (exit 2), never pino's stack trace.
 */
export function parseLogLevel(value: string, origin = '--log-level'): LogLevel {
  const found = logLevels.find((l) => l === value.trim().toLowerCase());
  if (found === undefined) throw new ResolverError('ERR_USAGE', `${origin} ${JSON.stringify(value)} is not a log level; use one of ${logLevels.join(', ')}`);
  return found;
}

/** Creates the process logger. @throws ResolverError ERR_USAGE for an unknown level. */
export function createLogger(options: { level: string; human: boolean; write?: (text: string) => void }): Logger {
  const level = parseLogLevel(options.level);
  const write = options.write ?? ((t: string) => void process.stdout.write(t));
  const stream = options.human ? humanStream(write) : { write };
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: ['authorization', 'Authorization', 'password', 'identitytoken', 'registrytoken', 'auth', '*.authorization', '*.password', '*.auth', 'headers["x-registry-auth"]', 'headers["X-Registry-Auth"]'],
        censor: '[REDACTED]',
      },
    },
    stream,
  );
}
