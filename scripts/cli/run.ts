import { config } from "../../lib/config.js";

/**
 * What a script says when it fails: one line, no stack (set LOG_LEVEL=debug to see the stack too).
 * A mistake of the user (a file that is not there, a database that does not answer) is a CliError with
 * the whole sentence; anything else is described from the error itself.
 */
export class CliError extends Error {
  override name = "CliError";
}

interface SystemError extends Error {
  code?: string;
  path?: string;
  address?: string;
  port?: number;
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** Credentials are never printed: postgres://user:secret@host -> postgres://user:***@host. */
export function redactUrl(text: string): string {
  return text.replace(/(\w+:\/\/[^:/@\s]+):[^@/\s]+@/g, "$1:***@");
}

/** One line for any thrown value: file errors name the file, connection errors the address, nested causes are followed. */
export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    // Node's happy-eyeballs connect: one error per address tried, and an empty message of its own.
    return [...new Set(error.errors.map(describeError))].join("; ");
  }
  if (!(error instanceof Error)) return String(error);
  const { code, path, address, port } = error as SystemError;
  if (code === "ENOENT" && path) return `${path}: no such file or directory`;
  if (code === "EACCES" && path) return `${path}: permission denied`;
  if (code === "EISDIR" && path) return `${path}: is a directory`;
  if (code && CONNECTION_CODES.has(code) && address) return `cannot connect to ${address}${port ? `:${port}` : ""} (${code})`;
  let message = error.message || code || error.name;
  // KafkaJS wraps the reason ("Connection error: connect ECONNREFUSED") in a retry error's cause; other
  // errors here say it all in their own message.
  const cause = (error as { cause?: unknown }).cause;
  if (cause !== undefined && cause !== error && (error.name.startsWith("KafkaJS") || !error.message)) {
    const because = describeError(cause);
    if (because && !message.includes(because)) message += `: ${because}`;
  }
  return redactUrl(message.replace(/\s*\n\s*/g, " ").trim());
}

/**
 * Runs a script's main: a number it returns is the exit code (else 0); a thrown error prints
 * "<name> failed: <one line>" on stderr and exits 1. `cleanUp` runs either way (close pools, producers).
 */
export function runMain(name: string, main: () => Promise<unknown>, cleanUp?: () => Promise<unknown>): void {
  void (async () => {
    let code = 1;
    try {
      const result = await main();
      code = typeof result === "number" ? result : 0;
    } catch (error) {
      process.stderr.write(`${name} failed: ${describeError(error)}\n`);
      if (config.LOG_LEVEL === "debug" || config.LOG_LEVEL === "trace")
        process.stderr.write(`${(error as Error)?.stack ?? ""}\n`);
    }
    try {
      await cleanUp?.();
    } catch {
      // Closing clients after a failure must not replace the error already printed.
    }
    process.exit(code);
  })();
}
