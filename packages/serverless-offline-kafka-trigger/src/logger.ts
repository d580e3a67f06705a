/**
 * What the trigger logs through: pino's Logger fits it, and so does anything with these four levels and child().
 * Without one, the trigger writes JSON lines to stderr (createJsonLogger), as Lambda's event source mapping
 * system logs are JSON.
 */
export interface TriggerLogger {
  debug(fields: object | string, message?: string): void;
  info(fields: object | string, message?: string): void;
  warn(fields: object | string, message?: string): void;
  error(fields: object | string, message?: string): void;
  child(bindings: Record<string, unknown>): TriggerLogger;
}

/** Lambda's SystemLogLevel values (LoggingConfig), most verbose first; ERROR is local only. */
export const LOG_LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = { DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3 };

function serialisable(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? { type: value.name, message: value.message, stack: value.stack } : value;
  }
  return out;
}

/** JSON lines on `write` (stderr by default), at `level` and above. */
export function createJsonLogger(
  level: LogLevel = "INFO",
  bindings: Record<string, unknown> = {},
  write: (line: string) => void = (line) => process.stderr.write(line),
): TriggerLogger {
  const emit = (at: LogLevel) => (fields: object | string, message?: string) => {
    if (RANK[at] < RANK[level]) return;
    const body =
      typeof fields === "string" ? { message: fields } : { ...serialisable(fields as Record<string, unknown>), message };
    const entry = { time: new Date().toISOString(), level: at, ...bindings, ...body };
    write(`${JSON.stringify(entry, (_, value) => (typeof value === "bigint" ? value.toString() : value))}\n`);
  };
  return {
    debug: emit("DEBUG"),
    info: emit("INFO"),
    warn: emit("WARN"),
    error: emit("ERROR"),
    child: (more) => createJsonLogger(level, { ...bindings, ...more }, write),
  };
}

/**
 * A logger that drops entries below `level` before they reach `inner` (LoggingConfig.SystemLogLevel on an
 * event narrows what the host's logger gets for that event's poller).
 */
export function atLevel(inner: TriggerLogger, level: LogLevel | undefined): TriggerLogger {
  if (level === undefined || level === "DEBUG") return inner;
  const keep = (at: LogLevel) => RANK[at] >= RANK[level];
  return {
    debug: (fields, message) => keep("DEBUG") && inner.debug(fields, message),
    info: (fields, message) => keep("INFO") && inner.info(fields, message),
    warn: (fields, message) => keep("WARN") && inner.warn(fields, message),
    error: (fields, message) => inner.error(fields, message),
    child: (bindings) => atLevel(inner.child(bindings), level),
  };
}
