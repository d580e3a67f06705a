import { v5 as uuidv5 } from "uuid";
import { type Database, getDb } from "../../lib/db/client.js";
import type { NewTransactionRow } from "../../lib/db/schema.js";
import { insertTransactions } from "../../lib/db/transactions.js";
import { logger } from "../../lib/logger.js";
import { type PaysimRow, readPaysimCsv } from "../paysim/csv.js";

const log = logger.child({ component: "seed" });

/** Namespace of seeded ids (a fixed random UUID): id = UUIDv5(line number + ":" + the line's text). */
export const SEED_ID_NAMESPACE = "6f1c7c1e-2b7a-4d0e-9a51-7b1f3c5e8d20";
/**
 * Seeded rows have no receive time; they get one derived from the data so re-seeding is
 * reproducible: SEED_EPOCH + step hours + line-number milliseconds (keeps file order within a
 * step). 2017-01-01T00:00:00Z: before any live traffic, so the historical ledger sorts first.
 */
export const SEED_EPOCH = Date.UTC(2017, 0, 1);
export const DEFAULT_SEED_BATCH = 1_000;

export interface SeedOptions {
  file: string;
  /** How many data rows from the top of the file (the default 100). */
  rows: number;
  batchSize?: number;
  db?: Database;
  /** Called after each committed batch with the rows read so far. */
  onProgress?: (read: number) => void;
}

export interface SeedSummary {
  file: string;
  read: number;
  inserted: number;
  /** Rows already stored (same id), e.g. from an earlier seed. */
  skipped: number;
  ms: number;
}

/** Deterministic: the same line of the same content always gets the same id, so re-seeding inserts nothing. */
export function seedIdOf(row: Pick<PaysimRow, "line" | "raw">): string {
  return uuidv5(`${row.line}:${row.raw}`, SEED_ID_NAMESPACE);
}

export function seedRowOf(row: PaysimRow): NewTransactionRow {
  return {
    ...row.transaction,
    id: seedIdOf(row),
    status: "Historical",
    receivedAt: new Date(SEED_EPOCH + row.transaction.step * 3_600_000 + row.line),
  };
}

/**
 * Stores the first `rows` rows of a PaySim CSV as Historical transactions. Streams the file;
 * each batch is fully validated before it is written, and written in one database transaction,
 * so a bad line (PaysimFileError naming file and line) leaves no part of its batch behind.
 */
export async function seedTransactions(options: SeedOptions): Promise<SeedSummary> {
  const started = performance.now();
  const db = options.db ?? getDb();
  const batchSize = options.batchSize ?? DEFAULT_SEED_BATCH;
  let read = 0;
  let inserted = 0;
  let batch: NewTransactionRow[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    inserted += await db.transaction((tx) => insertTransactions(tx, rows));
    options.onProgress?.(read);
  };
  for await (const row of readPaysimCsv(options.file, { limit: options.rows })) {
    batch.push(seedRowOf(row));
    read++;
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  const summary = { file: options.file, read, inserted, skipped: read - inserted, ms: Math.round(performance.now() - started) };
  log.debug(summary, "seed finished");
  return summary;
}
