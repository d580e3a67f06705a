import { DependencyUnavailableError, ProduceQueueFullError, TimeoutError, TransactionLogUnavailableError } from "./errors.js";

/**
 * What a failure says about the work that hit it:
 * - "content": the database refused the data itself (SQLSTATE class 22 data exception, 23 integrity
 *   constraint violation); the same record fails again however often it is retried;
 * - "outage": the database or broker could not serve right now (every other SQLSTATE: 08 connection, 40001
 *   and 40P01 serialization and deadlock, 53 insufficient resources, 55P03 lock timeout, 57014 statement
 *   timeout, 57P01-57P03 shutdown, 58 I/O, ...; a lost or refused connection; a client-side timeout);
 *   retrying the same work succeeds once it is back;
 * - "defect": a programming error of ours (TypeError and the other built-in error types);
 * - "unknown": any other error. Met at a database or broker call (asDependencyError) it is the client's own
 *   word for a broken connection (pg's "Connection terminated unexpectedly" has no code), so an outage there.
 * Decided by what the error is (its SQLSTATE, its type, its system code), never by whether `select 1` answers
 * meanwhile: a locked table answers `select 1`.
 */
export type FailureKind = "content" | "outage" | "defect" | "unknown";

/** SQLSTATE classes caused by what a statement carried. */
const CONTENT_CLASSES = new Set(["22", "23"]);
const DEFECT_TYPES = [TypeError, RangeError, ReferenceError, SyntaxError];
const SQLSTATE = /^[0-9A-Z]{5}$/;
/** Node's system errors (ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT, ENOTFOUND, ...). */
const SYSTEM_CODE = /^E[A-Z]{2,}$/;

interface DatabaseErrorFields {
  code: string;
  message: string;
  table?: string;
  column?: string;
  constraint?: string;
}

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; current !== undefined && current !== null && chain.length < 8; ) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

/** pg's DatabaseError anywhere in the cause chain (Drizzle wraps it in a DrizzleQueryError). */
export function databaseErrorOf(error: unknown): DatabaseErrorFields | undefined {
  for (const link of causes(error)) {
    const { code, severity } = link as { code?: unknown; severity?: unknown };
    if (typeof code === "string" && SQLSTATE.test(code) && typeof severity === "string") return link as DatabaseErrorFields;
  }
  return undefined;
}

export function classifyFailure(error: unknown): FailureKind {
  const database = databaseErrorOf(error);
  if (database) return CONTENT_CLASSES.has(database.code.slice(0, 2)) ? "content" : "outage";
  for (const link of causes(error)) {
    if (
      link instanceof DependencyUnavailableError ||
      link instanceof TimeoutError ||
      link instanceof TransactionLogUnavailableError ||
      link instanceof ProduceQueueFullError
    )
      return "outage";
    const { name, code } = link as { name?: unknown; code?: unknown };
    if (typeof name === "string" && name.startsWith("KafkaJS")) return "outage";
    if (typeof code === "string" && SYSTEM_CODE.test(code)) return "outage";
  }
  if (DEFECT_TYPES.some((type) => error instanceof type)) return "defect";
  return "unknown";
}

/**
 * A description safe for logs and API answers: the SQLSTATE with the server's message (and, for a refused
 * value, only the table, column or constraint: class 22/23 messages can quote the value), a system error's
 * code, or the error's own first line. Never a statement or its parameters (Drizzle's "Failed query: ...
 * params: ..." is skipped for its cause).
 */
export function describeFailure(error: unknown): string {
  const database = databaseErrorOf(error);
  if (database) {
    if (!CONTENT_CLASSES.has(database.code.slice(0, 2))) return `SQLSTATE ${database.code}: ${firstLine(database.message)}`;
    const where = [database.table, database.column, database.constraint].filter(Boolean).join(".");
    return `SQLSTATE ${database.code}${where ? ` (${where})` : ""}`;
  }
  for (const link of causes(error)) {
    if (link instanceof DependencyUnavailableError) return link.reason;
    const { code, syscall } = link as { code?: unknown; syscall?: unknown };
    if (typeof code === "string" && SYSTEM_CODE.test(code)) return typeof syscall === "string" ? `${code} (${syscall})` : code;
  }
  const meaningful = causes(error).find((link) => (link as { name?: unknown }).name !== "DrizzleQueryError") ?? error;
  if (meaningful instanceof Error) return `${meaningful.name}: ${firstLine(meaningful.message)}`;
  return String(meaningful).slice(0, 200);
}

function firstLine(text: string): string {
  const line = text.split("\n")[0] ?? "";
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

/**
 * The error to throw for `error` met at a call to `dependency`: an outage, or an error of the client's own
 * without a code (pg's "Connection terminated unexpectedly", "Query read timeout", a pool connect timeout),
 * becomes DependencyUnavailableError; content and defects stay as they are.
 */
export function asDependencyError(dependency: "database" | "kafka", error: unknown): unknown {
  if (error instanceof DependencyUnavailableError) return error;
  const kind = classifyFailure(error);
  return kind === "outage" || kind === "unknown" ? new DependencyUnavailableError(dependency, describeFailure(error)) : error;
}
