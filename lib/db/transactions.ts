import type { Database } from "./client.js";
import { type NewTransactionRow, transactions } from "./schema.js";

/** PostgreSQL allows 65,535 bind parameters a statement; 18 columns a row leaves room for 3,000 rows. */
export const MAX_ROWS_PER_INSERT = 3_000;

/**
 * Inserts rows, skipping ids that are already stored (redelivery, replays, re-seeding), in
 * statements of at most MAX_ROWS_PER_INSERT rows. Returns how many rows were new. Callers that need
 * all-or-nothing pass a transaction as `db`.
 */
export async function insertTransactions(db: Pick<Database, "insert">, rows: NewTransactionRow[]): Promise<number> {
  let inserted = 0;
  for (let start = 0; start < rows.length; start += MAX_ROWS_PER_INSERT) {
    const chunk = rows.slice(start, start + MAX_ROWS_PER_INSERT);
    const result = await db.insert(transactions).values(chunk).onConflictDoNothing({ target: transactions.id });
    inserted += result.rowCount ?? 0;
  }
  return inserted;
}
