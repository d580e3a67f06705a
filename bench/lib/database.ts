import pg from "pg";
import { migrateDatabase } from "../../lib/db/client.js";
import { ensureDatabase, withDatabase } from "../../scripts/infra/index.js";

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

/** Drops the database named in `url` (ending other sessions on it first); harmless when it is missing. */
export async function dropDatabase(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: withDatabase(url, "postgres") });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${quoteIdent(databaseName(url))} with (force)`);
  } finally {
    await admin.end();
  }
}

/** A fresh, migrated database: the bench never measures against rows a previous run left behind. */
export async function freshDatabase(url: string): Promise<void> {
  await dropDatabase(url);
  await ensureDatabase(url);
  await migrateDatabase(url);
}

/** The columns the consumer writes; persisted_at is left to its default (now()) in both paths. */
export const COPY_COLUMNS = [
  "id",
  "step",
  "type",
  "amount",
  "name_orig",
  "old_balance_orig",
  "new_balance_orig",
  "name_dest",
  "old_balance_dest",
  "new_balance_dest",
  "is_fraud",
  "is_flagged_fraud",
  "status",
  "received_at",
  "kafka_topic",
  "kafka_partition",
  "kafka_offset",
  // The hash chain (lib/db/chain.ts; chain_scope is generated): the reference copies the rows as stored, chained.
  "chain_seq",
  "chain_hash",
] as const;
