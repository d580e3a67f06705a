import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import pg from "pg";
import { waitFor } from "./process.js";

/** True when a PostgreSQL server at `url` accepts a connection (to any database). */
export async function postgresAnswers(url: string, timeoutMs = 2_000): Promise<boolean> {
  const client = new pg.Client({ connectionString: withDatabase(url, "postgres"), connectionTimeoutMillis: timeoutMs });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Creates the database named in `url` when it is missing; harmless when it exists. */
export async function ensureDatabase(url: string): Promise<void> {
  const database = databaseName(url);
  const client = new pg.Client({ connectionString: withDatabase(url, "postgres") });
  await client.connect();
  try {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [database]);
    if (!rowCount) {
      await client.query(`create database ${quoteIdent(database)}`).catch((error: { code?: string }) => {
        // Two processes racing to create it: the loser sees duplicate_database, which is fine.
        if (error.code !== "42P04") throw error;
      });
    }
  } finally {
    await client.end();
  }
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

export async function freePort(preferred?: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number>((resolvePort, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        const address = server.address();
        server.close(() => resolvePort(typeof address === "object" && address ? address.port : port));
      });
    });
  if (preferred) {
    try {
      return await tryListen(preferred);
    } catch {
      // taken: fall through to any free port
    }
  }
  return tryListen(0);
}

/** Debian keeps initdb/pg_ctl under /usr/lib/postgresql/<major>/bin, not always on PATH. */
export function findPostgresBin(): string | undefined {
  const onPath = spawnSync("sh", ["-c", "command -v pg_ctl"], { encoding: "utf8" }).stdout.trim();
  if (onPath) return join(onPath, "..");
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root).filter((name) => existsSync(join(root, name, "bin", "pg_ctl")));
  majors.sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(root, majors[0], "bin") : undefined;
}

export interface PrivatePostgresOptions {
  dir: string;
  port: number;
}

/**
 * A PostgreSQL cluster owned by this project (initdb + pg_ctl), for machines without a server and for
 * fault tests that must stop a database without touching the machine's shared one.
 */
export class PrivatePostgres {
  /** The superuser's generated password (owner-only, 0600); initdb puts it in the cluster, scram-sha-256 checks it. */
  readonly passwordFile: string;
  private readonly dataDir: string;
  private readonly bin: string;

  constructor(private readonly options: PrivatePostgresOptions) {
    const bin = findPostgresBin();
    if (!bin) throw new Error("PostgreSQL's server binaries (initdb, pg_ctl) were not found: apt-get install postgresql");
    this.bin = bin;
    this.dataDir = join(options.dir, "data");
    this.passwordFile = privatePostgresPasswordFile(options.dir);
  }

  /** The superuser's URL, password included (a cluster initialised before passwords were generated has none). */
  get url(): string {
    const url = new URL(`postgres://postgres@127.0.0.1:${this.options.port}/postgres`);
    const password = readPassword(this.passwordFile);
    if (password !== undefined) url.password = encodeURIComponent(password);
    return url.toString();
  }

  /** Written once, before initdb, readable by its owner only (as root: the postgres user, whose initdb reads it). */
  private ensurePassword(): void {
    if (existsSync(this.passwordFile)) return;
    writeFileSync(this.passwordFile, `${randomBytes(24).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
    if (process.getuid?.() === 0) {
      const { uid, gid } = postgresUser();
      chownSync(this.passwordFile, uid, gid);
    }
  }

  /** PostgreSQL refuses to run as root; as root we run its tools as the `postgres` system user. */
  private run(tool: string, args: string[]): string {
    const command = join(this.bin, tool);
    const asRoot = process.getuid?.() === 0;
    return execFileSync(asRoot ? "runuser" : command, asRoot ? ["-u", "postgres", "--", command, ...args] : args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  }

  private ownDirs(): void {
    mkdirSync(this.options.dir, { recursive: true });
    if (process.getuid?.() !== 0) return;
    const { uid, gid } = postgresUser();
    chownSync(this.options.dir, uid, gid);
    if (existsSync(this.dataDir)) chownSync(this.dataDir, uid, gid);
  }

  isRunning(): boolean {
    if (!existsSync(join(this.dataDir, "PG_VERSION"))) return false;
    try {
      this.run("pg_ctl", ["status", "-D", this.dataDir]);
      return true;
    } catch {
      return false;
    }
  }

  async start(): Promise<void> {
    this.ownDirs();
    if (!existsSync(join(this.dataDir, "PG_VERSION"))) {
      this.ensurePassword();
      // Every connection, socket or TCP, needs the password: nothing on this machine gets in unasked.
      const auth = ["--auth=scram-sha-256", `--pwfile=${this.passwordFile}`];
      this.run("initdb", ["-D", this.dataDir, "-U", "postgres", ...auth, "-E", "UTF8", "--no-sync"]);
    }
    if (!this.isRunning()) {
      const options = `-p ${this.options.port} -c listen_addresses=127.0.0.1 -k ${this.options.dir} -c fsync=on`;
      this.run("pg_ctl", ["start", "-w", "-D", this.dataDir, "-l", join(this.options.dir, "postgres.log"), "-o", options]);
    }
    await waitFor(`PostgreSQL on 127.0.0.1:${this.options.port}`, () => postgresAnswers(this.url), { timeoutMs: 30_000 });
  }

  /**
   * Fast shutdown (the default): aborts open transactions (their clients see errors), keeps committed data.
   * Immediate: as a crash or a failover looks to clients (no goodbye; recovery on the next start).
   */
  async stop(mode: "fast" | "immediate" = "fast"): Promise<void> {
    if (this.isRunning()) this.run("pg_ctl", ["stop", "-w", "-m", mode, "-D", this.dataDir]);
  }
}

/** Where PrivatePostgres under `dir` keeps its superuser's password. */
export function privatePostgresPasswordFile(dir: string): string {
  return join(dir, "password");
}

/** The password in `file`, or undefined when there is none. */
export function readPassword(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
}

function postgresUser(): { uid: number; gid: number } {
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  return { uid, gid };
}
