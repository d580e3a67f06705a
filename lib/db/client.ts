import { resolve } from "node:path";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { config, withCredentials } from "../config.js";
import { databaseErrorOf, describeFailure } from "../failures.js";
import { logger } from "../logger.js";
import { type SecretReader, secrets } from "../secrets.js";
import * as schema from "./schema.js";

/**
 * The one pool and drizzle instance of this process, created on first use and reused across warm
 * Lambda invocations. Held on globalThis: serverless-offline runs every function's bundle in one
 * process, and a pool per bundle would open up to functions x DATABASE_POOL_SIZE connections.
 */
interface Clients {
  pool?: pg.Pool;
  database?: ReturnType<typeof drizzle<typeof schema>>;
  readPool?: pg.Pool;
  readDatabase?: ReturnType<typeof drizzle<typeof schema>>;
}
const CLIENTS = Symbol.for("txlog.db.clients");
const holder = globalThis as typeof globalThis & { [CLIENTS]?: Clients };
holder[CLIENTS] ??= {};
const clients: Clients = holder[CLIENTS];
const log = logger.child({ component: "database" });

/**
 * A pool whose connections can never crash the process: a connection that breaks while idle in the pool,
 * or while checked out between two statements (PostgreSQL restarting, the network dropping it), makes its
 * client emit "error", and pg-pool listens only while a client is idle. Each client gets a listener for its
 * whole life; the query in progress, if any, fails on its own and the pool discards the client.
 */
function guardedPool(name: string, options: pg.PoolConfig): pg.Pool {
  const settings = { connectionString: config.DATABASE_URL, ...options };
  const pool = config.DATABASE_SECRET_ARN
    ? new SecretCredentialsPool(settings, config.DATABASE_SECRET_ARN, secrets)
    : new pg.Pool(settings);
  const onError = (error: Error) => log.warn({ pool: name, error: describeFailure(error) }, "database connection lost");
  pool.on("error", onError);
  pool.on("connect", (client) => client.on("error", onError));
  return pool;
}

type ConnectCallback = (error: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void;

/** PostgreSQL's invalid_password: the secret may have been rotated since this process read it. */
const INVALID_PASSWORD = "28P01";

/**
 * A pool that logs in as the user of a Secrets Manager secret, read before its first connection: pg-pool builds
 * every client from `options`, so the credentials go into its connection string once they are known. A login
 * refused for its password makes the next connection read the secret again.
 */
export class SecretCredentialsPool extends pg.Pool {
  readonly #secretArn: string;
  readonly #reader: SecretReader;
  readonly #baseUrl: string;

  constructor(options: pg.PoolConfig & { connectionString: string }, secretArn: string, reader: SecretReader) {
    super(options);
    this.#secretArn = secretArn;
    this.#reader = reader;
    this.#baseUrl = options.connectionString;
  }

  async #withCredentials(): Promise<void> {
    const { username, password } = await this.#reader.credentials(this.#secretArn);
    this.options.connectionString = withCredentials(this.#baseUrl, username, password);
  }

  #onLoginError(error: unknown): void {
    if (databaseErrorOf(error)?.code === INVALID_PASSWORD) this.#reader.forget(this.#secretArn);
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  // pg-pool's own query() calls connect with a callback.
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | undefined {
    if (callback === undefined) {
      return this.#withCredentials()
        .then(() => super.connect())
        .catch((error: unknown) => {
          this.#onLoginError(error);
          throw error;
        });
    }
    this.#withCredentials().then(
      () =>
        super.connect((error, client, done) => {
          if (error) this.#onLoginError(error);
          callback(error, client, done);
        }),
      (error: Error) => callback(error, undefined, () => {}),
    );
    return undefined;
  }
}

/** The consume function's pool (writes). */
export function getPool(): pg.Pool {
  clients.pool ??= guardedPool("write", {
    max: config.DATABASE_POOL_SIZE,
    connectionTimeoutMillis: 5_000,
    // No statement may hold a connection (or the consume function) indefinitely: the server cancels it,
    // and the client stops waiting a little later even when the server does not answer at all.
    statement_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS,
    query_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS + 2_000,
  });
  return clients.pool;
}

export function getDb() {
  clients.database ??= drizzle(getPool(), { schema });
  return clients.database;
}

/**
 * The API's reads, on a pool of their own so that a batch stuck on a lock never takes a read's connection
 * (nor a read the consumer's): every statement is cancelled by the server after DATABASE_READ_TIMEOUT_MS, and
 * waiting for a connection is bounded too, so a read answers (503 at worst) within about 5 s.
 */
export function getReadPool(): pg.Pool {
  clients.readPool ??= guardedPool("read", {
    max: config.DATABASE_POOL_SIZE,
    connectionTimeoutMillis: READ_CONNECT_TIMEOUT_MS,
    statement_timeout: config.DATABASE_READ_TIMEOUT_MS,
    query_timeout: config.DATABASE_READ_TIMEOUT_MS + 500,
  });
  return clients.readPool;
}

export function getReadDb() {
  clients.readDatabase ??= drizzle(getReadPool(), { schema });
  return clients.readDatabase;
}

/** How long a read waits for a free connection of the read pool. */
export const READ_CONNECT_TIMEOUT_MS = 1_000;

export type Database = ReturnType<typeof getDb>;

/** A database transaction as Drizzle hands it to `db.transaction`'s callback. */
export type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];

/**
 * `work` in one transaction on a connection of `db`'s pool, which it also gets for what Drizzle cannot send
 * (COPY, lib/db/copy.ts). A connection whose transaction failed is discarded rather than pooled: after a timed-out
 * COPY it may still be in the middle of one.
 */
export async function transactionOnConnection<T>(
  db: Database,
  work: (tx: Transaction, connection: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const connection = await db.$client.connect();
  let failure: unknown;
  try {
    return await drizzle(connection, { schema }).transaction((tx) => work(tx, connection));
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    connection.release(failure === undefined ? undefined : true);
  }
}

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
  const pools = [clients.pool, clients.readPool];
  clients.pool = undefined;
  clients.database = undefined;
  clients.readPool = undefined;
  clients.readDatabase = undefined;
  await Promise.all(pools.map((pool) => pool?.end()));
}
