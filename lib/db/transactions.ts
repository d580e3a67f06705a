import { getTableColumns, inArray, type SQL, sql } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import type pg from "pg";
import { insertChained } from "./chain.js";
import { type Database, getDb } from "./client.js";
import { copyTransactions } from "./copy.js";
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

/** How lib/db/chain.ts stores a linked batch. */
export interface InsertOptions {
  /** The persisted_at of every row that has none: one instant a batch, hashed with the rows. */
  persistedAt: Date;
  /** One statement around a batch's single INSERT, which runs only if `onlyIf` holds; answers the new ids. */
  wrap?: { onlyIf: SQL; statement: (insert: SQL) => SQL };
}

/**
 * One INSERT ... SELECT FROM unnest($1::uuid[], $2::integer[], ...) for the whole chunk: a
 * parameter per column instead of per value. Measured (bench/experiments/insert-paths.ts) about 4x
 * faster than a multi-row VALUES list, most of whose cost was building 17 placeholders a row.
 * Columns no row sets take their defaults (chain_scope is generated); persisted_at is the batch's instant
 * when a row has none, bound once.
 */
function unnestInsert(chunk: NewTransactionRow[], persistedAt: Date, onlyIf?: SQL): SQL {
  const present = columns.filter(([key]) => key !== "persistedAt" && chunk.some((row) => row[key] !== undefined));
  const own = chunk.some((row) => row.persistedAt !== undefined);
  const names = sql.join(
    [...present, ...(own ? columns.filter(([key]) => key === "persistedAt") : [])].map(([, column]) =>
      sql.identifier(column.name),
    ),
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
  const instants = own
    ? sql`, ${sql.param(chunk.map((row) => (row.persistedAt ?? persistedAt).toISOString()))}::timestamptz[]`
    : sql``;
  const persisted = own ? sql`` : sql`, ${sql.identifier(transactions.persistedAt.name)}`;
  const persistedValue = own ? sql`` : sql`, ${persistedAt.toISOString()}::timestamptz`;
  return sql`insert into ${transactions} (${names}${persisted}) select u.*${persistedValue} from unnest(${arrays}${instants}) as u ${onlyIf ? sql`where ${onlyIf} ` : sql``}on conflict (${sql.identifier(transactions.id.name)}) do nothing returning ${sql.identifier(transactions.id.name)}`;
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
 * new row extends its scope's hash chain (lib/db/chain.ts); call inside a transaction. Given the transaction's own
 * `connection`, the rows are COPYed first (lib/db/copy.ts), and inserted with ON CONFLICT only if that fails.
 */
export async function insertNewTransactions(
  db: Pick<Database, "execute">,
  rows: NewTransactionRow[],
  connection?: pg.ClientBase,
): Promise<Set<string>> {
  const copy = connection
    ? (linked: NewTransactionRow[], persistedAt: Date) => copyTransactions(connection, linked, persistedAt)
    : undefined;
  return insertChained(db, rows, insertRows, MAX_ROWS_PER_INSERT, copy);
}

async function insertRows(
  db: Pick<Database, "execute">,
  rows: NewTransactionRow[],
  options: InsertOptions,
): Promise<Set<string>> {
  const inserted = new Set<string>();
  if (options.wrap && rows.length <= MAX_ROWS_PER_INSERT) {
    const result = await db.execute<{ id: string }>(
      options.wrap.statement(unnestInsert(rows, options.persistedAt, options.wrap.onlyIf)),
    );
    for (const row of result.rows) inserted.add(row.id);
    return inserted;
  }
  for (let start = 0; start < rows.length; start += MAX_ROWS_PER_INSERT) {
    const chunk = rows.slice(start, start + MAX_ROWS_PER_INSERT);
    const result = await db.execute<{ id: string }>(unnestInsert(chunk, options.persistedAt));
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
