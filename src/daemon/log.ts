import type { LogLevel } from './config.ts';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, fatal: 4 };

/** Lines like dockerd's: `time="…" level=info msg="…"`, on stderr. */
export function createLogger(level: LogLevel, out: NodeJS.WritableStream = process.stderr): Logger {
  const at = (l: LogLevel) => (msg: string) => {
    if (ORDER[l] < ORDER[level]) return;
    out.write(`time="${new Date().toISOString()}" level=${l} msg=${JSON.stringify(msg)}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
