import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";

/**
 * The settings only a developer machine reads (infra:up, npm start, tests, bench), parsed and validated
 * once. The deployed functions never see them: their settings are lib/config.ts's. Same variable names
 * and defaults as always. Must not import lib/config.ts: entry files run this before they load it (cli/local-environment.ts).
 */
const port = z.coerce.number().int().min(1).max(65535);

function commaList(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
}

/** scheme://host[:port] exactly as a browser sends it in Origin (http or https; no "*", no path). */
function isWebOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === value;
  } catch {
    return false;
  }
}

const InfraSettingsSchema = z.object({
  /**
   * The native brokers' controller (KRaft quorum) port: one, or one per broker ("9093,9095,9097"); with one,
   * the other brokers' follow in steps of 2.
   */
  KAFKA_CONTROLLER_PORT: z
    .string()
    .default("9093")
    .transform((value) => value.split(",").map((item) => Number(item.trim())))
    .pipe(z.array(z.number().int().min(1).max(65535)).min(1)),
  /** How many native brokers infra:up starts when Kafka does not answer (npm start, npm test; infra:up --brokers N). */
  KAFKA_BROKER_COUNT: z.coerce.number().int().min(1).max(5).default(1),
  /** Where infra:up keeps jars, data, logs, pids and infra-state.json; git-ignored. */
  INFRA_CACHE_DIR: z.string().min(1).default(resolve(process.cwd(), ".cache")),
  /** serverless-offline's HTTP port (serverless.yml reads the variable itself; npm start waits on it). */
  HTTP_PORT: port.default(3000),
  /** The address serverless-offline listens on (serverless.yml reads it): loopback unless told otherwise. */
  HTTP_HOST: z.string().min(1).default("127.0.0.1"),
  /**
   * Host names the local server answers besides localhost, *.localhost, IP addresses and HTTP_HOST
   * (plugins/offline-guard): comma-separated, e.g. "txlog.test,api". Any other Host header gets 421.
   */
  HTTP_ALLOWED_HOSTS: z
    .string()
    .default("")
    .transform(commaList)
    .pipe(z.array(z.string().regex(/^[a-z0-9.-]+$/i, "expected a host name without port, e.g. txlog.test"))),
  /**
   * Web origins other than the API's own whose pages may call the local server from a browser (CORS):
   * comma-separated, e.g. "http://localhost:5173". Empty: no cross-origin grant at all.
   */
  CORS_ALLOWED_ORIGINS: z
    .string()
    .default("")
    .transform(commaList)
    .pipe(
      z.array(z.string().refine(isWebOrigin, "expected an origin such as http://localhost:5173 (scheme://host[:port], no path)")),
    ),
  /**
   * serverless-offline's Lambda invoke server (serverless.yml reads it): a TCP port, or a Unix socket path
   * (with a "/"). Unset, npm start and the tests put a socket in a private temporary directory.
   */
  LAMBDA_PORT: z.union([port, z.string().regex(/\//, "a TCP port or a Unix socket path containing /")]).optional(),
  /** serverless-offline's WebSocket port (serverless.yml reads it; no function has a websocket event). */
  WEBSOCKET_PORT: port.default(3001),
  /** docker-compose.yml's PostgreSQL password (its default, for local use only); infra:up connects with it. */
  POSTGRES_PASSWORD: z.string().min(1).default("txlog-local-postgres"),
});

export type InfraSettings = z.infer<typeof InfraSettingsSchema> & {
  /**
   * The PostgreSQL URL local processes use: an explicit DATABASE_URL always wins, else the private
   * cluster's URL infra:up recorded, else undefined (lib/config.ts's default applies).
   */
  DATABASE_URL: string | undefined;
};

/**
 * Node flags of the `serverless offline start` process npm start runs: young-generation semi-spaces of 4 MB
 * instead of 16 (~20-30 MB less RSS at rest and under load) and an old space collected before it passes
 * 320 MB (its live data is ~100 MB at rest). Tests that run the server as npm start does use them too.
 */
export const OFFLINE_NODE_FLAGS = ["--max-semi-space-size=4", "--max-old-space-size=320"];

export class InfraSettingsError extends Error {
  override name = "InfraSettingsError";
}

/** What infra:up started; infra:down and every later local process read it. */
export function infraStateFile(cacheDir: string): string {
  return resolve(cacheDir, "infra-state.json");
}

/**
 * infra:up may have had to start a private PostgreSQL on a free port; it records the URL in
 * <INFRA_CACHE_DIR>/infra-state.json so every later process finds it.
 */
export function recordedDatabaseUrl(cacheDir: string): string | undefined {
  const stateFile = infraStateFile(cacheDir);
  if (!existsSync(stateFile)) return undefined;
  try {
    const state = JSON.parse(readFileSync(stateFile, "utf8")) as { postgres?: { url?: string; passwordFile?: string } };
    const recorded = state.postgres?.url;
    const passwordFile = state.postgres?.passwordFile;
    // The private cluster's password stays in its 0600 file; the state file records only where it is.
    if (recorded === undefined || passwordFile === undefined || !existsSync(passwordFile)) return recorded;
    const url = new URL(recorded);
    url.password = encodeURIComponent(readFileSync(passwordFile, "utf8").trim());
    return url.toString();
  } catch {
    return undefined;
  }
}

/** The brokers of the native cluster infra:up started and recorded, if any (every node's address). */
export function recordedKafkaBrokers(cacheDir: string): string[] | undefined {
  const stateFile = infraStateFile(cacheDir);
  if (!existsSync(stateFile)) return undefined;
  try {
    const state = JSON.parse(readFileSync(stateFile, "utf8")) as { kafka?: { brokers?: string[] } };
    const brokers = state.kafka?.brokers;
    return Array.isArray(brokers) && brokers.length > 0 ? brokers : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sets env.KAFKA_BROKERS to every broker of the native cluster infra:up recorded when the environment names
 * none, so clients bootstrap from any node, not only the first. An explicit KAFKA_BROKERS wins.
 */
export function applyRecordedKafkaBrokers(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  if (env.KAFKA_BROKERS) return undefined;
  const brokers = recordedKafkaBrokers(loadInfraSettings(env).INFRA_CACHE_DIR);
  if (brokers) env.KAFKA_BROKERS = brokers.join(",");
  return brokers;
}

/** Both recorded settings: the database URL and the native cluster's brokers (cli/local-environment.ts, and again after infraUp). */
export function applyRecordedInfra(env: NodeJS.ProcessEnv = process.env): void {
  applyRecordedDatabaseUrl(env);
  applyRecordedKafkaBrokers(env);
}

/**
 * A URL naming the recorded server (same host and port) without a password gets the recorded one: the private
 * cluster's is generated, so `DATABASE_URL=postgres://postgres@127.0.0.1:<port>/db` keeps working after infra:up.
 */
function withRecordedPassword(databaseUrl: string, recorded: string | undefined): string {
  if (recorded === undefined || !URL.canParse(databaseUrl)) return databaseUrl; // lib/config.ts names a bad URL
  const url = new URL(databaseUrl);
  const known = new URL(recorded);
  if (url.password !== "" || known.password === "" || url.host !== known.host) return databaseUrl;
  url.password = known.password;
  return url.toString();
}

/** Parses the settings from `env` and reads the recorded database URL now (infraSettings is the once-read copy). */
export function loadInfraSettings(env: NodeJS.ProcessEnv = process.env): InfraSettings {
  const parsed = InfraSettingsSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new InfraSettingsError(`invalid configuration: ${problems.join("; ")}`);
  }
  const recorded = recordedDatabaseUrl(parsed.data.INFRA_CACHE_DIR);
  return { ...parsed.data, DATABASE_URL: env.DATABASE_URL ? withRecordedPassword(env.DATABASE_URL, recorded) : recorded };
}

export const infraSettings: InfraSettings = loadInfraSettings();

/**
 * Sets env.DATABASE_URL to the URL infra:up recorded when the environment names none, so lib/config.ts
 * (which never reads files: it runs in Lambda too) sees it. entry files do this first (cli/local-environment.ts); call it
 * again after infraUp(), which may just have started a private cluster, before re-reading lib/config.
 */
export function applyRecordedDatabaseUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const url = loadInfraSettings(env).DATABASE_URL;
  // Never assign undefined: process.env would store the string "undefined".
  if (url !== undefined) env.DATABASE_URL = url;
  return url;
}
