import { DependencyUnavailableError } from "../errors.js";
import { type Database, getReadDb, getReadPool } from "./client.js";
import { asDependencyError } from "./failures.js";

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
      throw new DependencyUnavailableError("database", `${waiting} reads are already waiting for a connection`, 1);
  }
  try {
    return await query(db ?? getReadDb());
  } catch (error) {
    throw asDependencyError("database", error);
  }
}
