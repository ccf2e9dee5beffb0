/**
 * Logs: JSON lines on stdout (journald collects them), or readable lines when stdout is a terminal.
 * pino's `redact` is a second layer; credentials are `Secret`s and are never passed to the logger.
 */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

const levelNames: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** A writable that turns pino's JSON lines into `HH:MM:SS LEVEL message key=value…`. */
function humanStream(write: (text: string) => void): { write(line: string): void } {
  return {
    write(line) {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line) as Record<string, unknown>;
      } catch {
        write(line);
        return;
      }
      const { level, time, msg, pid: _p, hostname: _h, ...rest } = o;
      const when = new Date(typeof time === 'number' ? time : Date.now()).toISOString().slice(11, 19);
      const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
      write(`${when} ${(levelNames[Number(level)] ?? String(level)).padEnd(5)} ${typeof msg === 'string' ? msg : JSON.stringify(msg ?? '')}${fields === '' ? '' : ` ${fields}`}\n`);
    },
  };
}

/** Creates the process logger. */
export function createLogger(options: { level: string; human: boolean; write?: (text: string) => void }): Logger {
  const write = options.write ?? ((t: string) => void process.stdout.write(t));
  const stream = options.human ? humanStream(write) : { write };
  return pino(
    {
      level: options.level,
      base: undefined,
      redact: {
        paths: ['authorization', 'Authorization', 'password', 'identitytoken', 'registrytoken', 'auth', '*.authorization', '*.password', '*.auth', 'headers["x-registry-auth"]', 'headers["X-Registry-Auth"]'],
        censor: '[REDACTED]',
      },
    },
    stream,
  );
}
