import { getTableColumns, inArray, type SQL, sql } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import { insertChained } from "./chain.js";
import { type Database, getDb } from "./client.js";
import { type NewTransactionRow, type TransactionRow, transactions } from "./schema.js";

/** Rows a statement; each statement binds one array per column, so the parameter limit does not apply. */
export const MAX_ROWS_PER_INSERT = 5_000;

const columns = Object.entries(getTableColumns(transactions)) as [keyof NewTransactionRow, PgColumn][];

/** The array type a column's values are bound as: its SQL type without precision. */
function arrayTypeOf(column: PgColumn): string {
  const type = column.getSQLType();
  if (type.startsWith("numeric")) return "numeric[]";
  if (type.startsWith("timestamp")) return "timestamptz[]";
  return `${type}[]`;
}

/**
 * One INSERT ... SELECT FROM unnest($1::uuid[], $2::integer[], ...) for the whole chunk: a
 * parameter per column instead of per value. Measured (bench/experiments/insert-paths.ts) about 4x
 * faster than a multi-row VALUES list, most of whose cost was building 17 placeholders a row.
 * Columns a row leaves out (persisted_at) take their defaults.
 */
function unnestInsert(chunk: NewTransactionRow[]): SQL {
  const present = columns.filter(([key]) => chunk.some((row) => row[key] !== undefined));
  const names = sql.join(
    present.map(([, column]) => sql.identifier(column.name)),
    sql`, `,
  );
  const arrays = sql.join(
    present.map(([key, column]) => {
      const values = chunk.map((row) => {
        const value = row[key];
        return value === undefined || value === null ? null : column.mapToDriverValue(value);
      });
      return sql`${sql.param(values)}::${sql.raw(arrayTypeOf(column))}`;
    }),
    sql`, `,
  );
  return sql`insert into ${transactions} (${names}) select * from unnest(${arrays}) on conflict (${sql.identifier(transactions.id.name)}) do nothing returning ${sql.identifier(transactions.id.name)}`;
}

/**
 * Inserts rows, skipping ids that are already stored (redelivery, replays, re-seeding), in
 * statements of at most MAX_ROWS_PER_INSERT rows. Returns how many rows were new. Callers that need
 * all-or-nothing pass a transaction as `db`.
 */
export async function insertTransactions(db: Pick<Database, "transaction">, rows: NewTransactionRow[]): Promise<number> {
  // A transaction of its own (a savepoint inside the caller's), so the chains' heads stay locked until the rows are in.
  return (await db.transaction((tx) => insertNewTransactions(tx, rows))).size;
}

/**
 * As insertTransactions, returning the ids that were new (the others were stored before, or twice in `rows`). Each
 * new row extends its scope's hash chain (lib/db/chain.ts); call inside a transaction.
 */
export async function insertNewTransactions(db: Pick<Database, "execute">, rows: NewTransactionRow[]): Promise<Set<string>> {
  return insertChained(db, rows, insertRows);
}

async function insertRows(db: Pick<Database, "execute">, rows: NewTransactionRow[]): Promise<Set<string>> {
  const inserted = new Set<string>();
  for (let start = 0; start < rows.length; start += MAX_ROWS_PER_INSERT) {
    const result = await db.execute<{ id: string }>(unnestInsert(rows.slice(start, start + MAX_ROWS_PER_INSERT)));
    for (const row of result.rows) inserted.add(row.id);
  }
  return inserted;
}

/** The stored idempotency fingerprint of each of `ids` that is stored (null: stored without one). */
export async function readStoredFingerprints(ids: string[], db: Database = getDb()): Promise<Map<string, string | null>> {
  const rows = await db
    .select({ id: transactions.id, fingerprint: transactions.idempotencyFingerprint })
    .from(transactions)
    .where(inArray(transactions.id, ids));
  return new Map(rows.map((row) => [row.id, row.fingerprint]));
}

/** The stored rows of `ids`, as the consumer compares them with a redelivered or conflicting message. */
export async function readStoredRows(db: Pick<Database, "select">, ids: string[]): Promise<Map<string, TransactionRow>> {
  const rows = await db.select().from(transactions).where(inArray(transactions.id, ids));
  return new Map(rows.map((row) => [row.id, row]));
}
