import { resolve } from "node:path";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { config } from "../config.js";
import * as schema from "./schema.js";

/**
 * The one pool and drizzle instance of this process, created on first use and reused across warm
 * Lambda invocations. Held on globalThis: serverless-offline runs every function's bundle in one
 * process, and a pool per bundle would open up to functions x DATABASE_POOL_SIZE connections.
 */
interface Clients {
  pool?: pg.Pool;
  database?: ReturnType<typeof drizzle<typeof schema>>;
}
const CLIENTS = Symbol.for("txlog.db.clients");
const holder = globalThis as typeof globalThis & { [CLIENTS]?: Clients };
holder[CLIENTS] ??= {};
const clients: Clients = holder[CLIENTS];

export function getPool(): pg.Pool {
  if (!clients.pool) {
    const pool = new pg.Pool({
      connectionString: config.DATABASE_URL,
      max: config.DATABASE_POOL_SIZE,
      connectionTimeoutMillis: 5_000,
      // No statement may hold a connection (or the consume function) indefinitely: the server cancels it,
      // and the client stops waiting a little later even when the server does not answer at all.
      statement_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS,
      query_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS + 2_000,
    });
    // An idle client losing its connection (database restart) must not crash the process.
    pool.on("error", () => {});
    clients.pool = pool;
  }
  return clients.pool;
}

export function getDb() {
  clients.database ??= drizzle(getPool(), { schema });
  return clients.database;
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
  const current = clients.pool;
  clients.pool = undefined;
  clients.database = undefined;
  await current?.end();
}
