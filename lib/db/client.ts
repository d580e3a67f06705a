import { resolve } from "node:path";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { config } from "../config.js";
import * as schema from "./schema.js";

/**
 * The one pool and drizzle instance of this process, created on first use and reused across warm
 * Lambda invocations.
 */
let pool: pg.Pool | undefined;
let database: ReturnType<typeof drizzle<typeof schema>> | undefined;

export function getPool(): pg.Pool {
  if (!pool) {
    pool = new pg.Pool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE, connectionTimeoutMillis: 5_000 });
    // An idle client losing its connection (database restart) must not crash the process.
    pool.on("error", () => {});
  }
  return pool;
}

export function getDb() {
  database ??= drizzle(getPool(), { schema });
  return database;
}

export type Database = ReturnType<typeof getDb>;

export const MIGRATIONS_FOLDER = resolve(import.meta.dirname, "../../drizzle");

/** Applies drizzle/'s committed SQL migrations; drizzle records applied ones, so this is idempotent. */
export async function runMigrations(db: Database = getDb()): Promise<void> {
  await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
}

/** Migrates the database at `url` with a short-lived pool of its own (scripts and test set-up). */
export async function migrateDatabase(url: string): Promise<void> {
  const ownPool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await migrate(drizzle(ownPool, { schema }), { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await ownPool.end();
  }
}

export async function closeDb(): Promise<void> {
  const current = pool;
  pool = undefined;
  database = undefined;
  await current?.end();
}
