import { DependencyUnavailableError } from "../errors.js";
import { asDependencyError } from "../failures.js";
import { logger } from "../logger.js";
import { type Database, getReadDb, getReadPool } from "./client.js";

/**
 * Reads waiting for a connection of the read pool at most; one more is refused at once (503), so a database
 * that stopped answering cannot pile up requests in the API process (each waiter holds its request).
 */
export const MAX_WAITING_READS = 50;

/**
 * Runs an API read on the read pool (statements cancelled by the server after DATABASE_READ_TIMEOUT_MS): a
 * database that cannot answer in time, or at all, becomes DependencyUnavailableError (503 + Retry-After).
 * `db` is for tests that read another database.
 */
export async function readDatabase<T>(query: (db: Database) => Promise<T>, db?: Database): Promise<T> {
  if (!db) {
    const waiting = getReadPool().waitingCount;
    if (waiting >= MAX_WAITING_READS)
      throw outage.failed(new DependencyUnavailableError("database", `${waiting} reads are already waiting for a connection`, 1));
  }
  try {
    const result = await query(db ?? getReadDb());
    outage.answered();
    return result;
  } catch (error) {
    const wrapped = asDependencyError("database", error);
    throw wrapped instanceof DependencyUnavailableError ? outage.failed(wrapped) : wrapped;
  }
}

/**
 * Reads failing for an outage, logged once when they start failing (and when the cause changes) and once
 * when they answer again, with how long and how many were refused: not a line per request.
 */
class ReadOutageLog {
  private since: number | undefined;
  private cause = "";
  private refused = 0;

  failed(error: DependencyUnavailableError): DependencyUnavailableError {
    this.refused += 1;
    if (this.since === undefined || error.reason !== this.cause) {
      log.warn(
        { cause: error.reason, ...(this.since === undefined ? {} : { previousCause: this.cause, downMs: this.downMs() }) },
        "database reads failing: answered 503 until the database serves again",
      );
      this.since ??= performance.now();
      this.cause = error.reason;
    }
    return error;
  }

  answered(): void {
    if (this.since === undefined) return;
    log.info({ cause: this.cause, downMs: this.downMs(), refused: this.refused }, "database reads answer again");
    this.since = undefined;
    this.refused = 0;
  }

  private downMs(): number {
    return Math.round(performance.now() - (this.since ?? performance.now()));
  }
}

const log = logger.child({ component: "database" });
const outage = new ReadOutageLog();
