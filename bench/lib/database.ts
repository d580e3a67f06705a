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
