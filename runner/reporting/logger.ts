/**
 * JSON-line logs on stderr. stdout is reserved for the runner's one-line result, which is why
 * this is not Powertools' Logger (it writes to stdout); the fields follow its shape
 * (level, message, timestamp, service) so the same CloudWatch queries work.
 */
export type LogLevel = "DEBUG" | "INFO" | "WARN" | "ERROR";

export interface Logger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
  child(keys: Record<string, unknown>): Logger;
}

const ORDER: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };

export interface LoggerOptions {
  /** Keys on every line, e.g. {runId, agent}. */
  keys?: Record<string, unknown>;
  /** Lowest level written; defaults to SQUADRON_LOG_LEVEL, else INFO. */
  level?: LogLevel;
  write?: (line: string) => void;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const envLevel = process.env.SQUADRON_LOG_LEVEL?.toUpperCase() as LogLevel | undefined;
  const min = ORDER[options.level ?? (envLevel && envLevel in ORDER ? envLevel : "INFO")];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const keys = options.keys ?? {};
  const log = (level: LogLevel, message: string, extra?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const entry: Record<string, unknown> = {
      level,
      message,
      timestamp: new Date().toISOString(),
      service: "squadron-runner",
      ...keys,
    };
    for (const [key, value] of Object.entries(extra ?? {})) {
      entry[key] = value instanceof Error ? { name: value.name, message: value.message } : value;
    }
    write(`${JSON.stringify(entry)}\n`);
  };
  return {
    debug: (m, e) => log("DEBUG", m, e),
    info: (m, e) => log("INFO", m, e),
    warn: (m, e) => log("WARN", m, e),
    error: (m, e) => log("ERROR", m, e),
    child: (more) => createLogger({ ...options, keys: { ...keys, ...more } }),
  };
}

/** A logger that drops everything (library defaults, tests that do not look at logs). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
