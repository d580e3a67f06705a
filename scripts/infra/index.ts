import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { KAFKA_VERSION, kafkaAnswers, NativeKafkaBroker } from "./kafka-broker.js";
import { ensureDatabase, freePort, PrivatePostgres, postgresAnswers, withDatabase } from "./postgres.js";
import { commandSucceeds } from "./process.js";
import { type InfraSettings, infraSettings, infraStateFile } from "./settings.js";

/**
 * scripts/infra: what brings Kafka and PostgreSQL up on a developer machine. This file is the one
 * face tests and bench import (never kafka-broker.ts, postgres.ts or settings.ts directly).
 */
export { ensureKafkaJars, KAFKA_VERSION, kafkaAnswers, type NativeBrokerOptions, NativeKafkaBroker } from "./kafka-broker.js";
export {
  ensureDatabase,
  findPostgresBin,
  freePort,
  PrivatePostgres,
  type PrivatePostgresOptions,
  postgresAnswers,
  withDatabase,
} from "./postgres.js";
export { commandSucceeds, isAlive, stopProcess, waitFor } from "./process.js";
export {
  applyRecordedDatabaseUrl,
  type InfraSettings,
  InfraSettingsError,
  infraSettings,
  infraStateFile,
  loadInfraSettings,
  recordedDatabaseUrl,
} from "./settings.js";

/**
 * The runtime settings infra works on, passed in (lib/config.ts's fields of the same names: a Config fits).
 * The infrastructure-only ones (cache directory, controller port) come from settings.ts.
 */
export interface InfraTarget {
  KAFKA_BROKERS: string[];
  TOPIC_PARTITIONS: number;
  DATABASE_URL: string;
}

type Paths = Pick<InfraSettings, "INFRA_CACHE_DIR" | "KAFKA_CONTROLLER_PORT">;

/** What infra:up started, so infra:down stops exactly that and nothing else. */
export interface InfraState {
  docker?: boolean;
  kafka?: { pid: number; brokers: string[] };
  postgres?: { url: string; port: number; startedByUs: boolean };
}

export class PrerequisiteError extends Error {
  override name = "PrerequisiteError";
}

const COMPOSE_FILE = resolve(import.meta.dirname, "../../docker-compose.yml");

export function readState(settings: Paths = infraSettings): InfraState {
  const file = infraStateFile(settings.INFRA_CACHE_DIR);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as InfraState) : {};
}

function writeState(settings: Paths, state: InfraState): void {
  mkdirSync(settings.INFRA_CACHE_DIR, { recursive: true });
  writeFileSync(infraStateFile(settings.INFRA_CACHE_DIR), `${JSON.stringify(state, null, 2)}\n`);
}

export function dockerEngineAnswers(): boolean {
  return commandSucceeds("docker", ["info"], 5_000);
}

export function nativeBroker(
  target: Pick<InfraTarget, "KAFKA_BROKERS" | "TOPIC_PARTITIONS">,
  settings: Paths = infraSettings,
): NativeKafkaBroker {
  const [first = "127.0.0.1:9092"] = target.KAFKA_BROKERS;
  return new NativeKafkaBroker({
    dir: join(settings.INFRA_CACHE_DIR, "kafka", "broker"),
    cacheDir: settings.INFRA_CACHE_DIR,
    port: Number(first.split(":")[1]),
    controllerPort: settings.KAFKA_CONTROLLER_PORT,
    partitions: target.TOPIC_PARTITIONS,
  });
}

function privatePostgres(settings: Paths, port: number): PrivatePostgres {
  return new PrivatePostgres({ dir: join(settings.INFRA_CACHE_DIR, "postgres"), port });
}

export type Progress = (message: string) => void;

/**
 * Brings Kafka and PostgreSQL up: with Docker where an engine answers, natively elsewhere.
 * Idempotent: whatever already answers is used as it is. Returns the database URL to use.
 */
export async function infraUp(
  config: InfraTarget,
  progress: Progress = () => {},
  settings: Paths = infraSettings,
): Promise<InfraState> {
  const state = readState(settings);
  let kafkaUp = await kafkaAnswers(config.KAFKA_BROKERS);
  let postgresUp = await postgresAnswers(config.DATABASE_URL);
  let databaseUrl = config.DATABASE_URL;

  if ((!kafkaUp || !postgresUp) && dockerEngineAnswers()) {
    progress("docker engine found: docker compose up -d --wait zookeeper kafka postgres");
    const compose = spawnSync("docker", ["compose", "-f", COMPOSE_FILE, "up", "-d", "--wait", "zookeeper", "kafka", "postgres"], {
      stdio: "inherit",
    });
    if (compose.status !== 0) throw new Error("docker compose up failed (see its output above)");
    state.docker = true;
    kafkaUp = await kafkaAnswers(config.KAFKA_BROKERS);
    postgresUp = await postgresAnswers(config.DATABASE_URL);
    // Compose's PostgreSQL wants a password (POSTGRES_PASSWORD); a DATABASE_URL without one gets compose's,
    // and the URL is recorded so every later local process connects with it.
    const url = new URL(databaseUrl);
    if (!postgresUp && url.password === "") {
      url.password = infraSettings.POSTGRES_PASSWORD;
      if (await postgresAnswers(url.toString())) {
        postgresUp = true;
        databaseUrl = url.toString();
        state.postgres = { url: databaseUrl, port: Number(url.port || 5432), startedByUs: false };
      }
    }
  }

  if (!kafkaUp) {
    const hasJava = commandSucceeds("java", ["-version"]);
    const hasMaven = commandSucceeds("mvn", ["-v"]);
    if (!hasJava || !hasMaven) {
      throw new PrerequisiteError(
        `Kafka is not reachable at ${config.KAFKA_BROKERS.join(",")} and cannot be started here: ` +
          "install either a Docker engine (docker compose) or JDK 17+ and Maven " +
          `(Debian: apt-get install openjdk-17-jdk-headless maven). Missing: ${[!hasJava && "java", !hasMaven && "mvn"].filter(Boolean).join(", ")}.`,
      );
    }
    progress(`starting Apache Kafka ${KAFKA_VERSION} (KRaft, jars from Maven Central) on ${config.KAFKA_BROKERS[0]}`);
    const broker = nativeBroker(config, settings);
    const pid = await broker.start();
    state.kafka = { pid, brokers: broker.brokers };
  }

  if (!postgresUp) {
    const wanted = Number(new URL(databaseUrl).port || 5432);
    const port = state.postgres?.startedByUs ? state.postgres.port : await freePort(wanted);
    progress(`no PostgreSQL answers at ${new URL(databaseUrl).host}: starting a private cluster on 127.0.0.1:${port}`);
    await privatePostgres(settings, port).start();
    const url = new URL(databaseUrl);
    url.hostname = "127.0.0.1";
    url.port = String(port);
    url.username = "postgres";
    url.password = "";
    databaseUrl = url.toString();
    state.postgres = { url: databaseUrl, port, startedByUs: true };
  }
  await ensureDatabase(databaseUrl);
  writeState(settings, state);
  return state;
}

/** Stops only what infraUp started; data directories stay, so a later up finds every message and row. */
export async function infraDown(
  config: Pick<InfraTarget, "KAFKA_BROKERS" | "TOPIC_PARTITIONS">,
  progress: Progress = () => {},
  settings: Paths = infraSettings,
): Promise<void> {
  const state = readState(settings);
  if (state.kafka) {
    progress(`stopping the Kafka broker (pid ${state.kafka.pid})`);
    await nativeBroker(config, settings).stop();
    state.kafka = undefined;
  }
  if (state.postgres?.startedByUs) {
    progress(`stopping the private PostgreSQL on port ${state.postgres.port}`);
    await privatePostgres(settings, state.postgres.port).stop();
  }
  if (state.docker) {
    progress("docker compose stop");
    spawnSync("docker", ["compose", "-f", COMPOSE_FILE, "stop"], { stdio: "inherit" });
    state.docker = undefined;
  }
  writeState(settings, state);
}

export interface InfraStatus {
  kafka: { brokers: string[]; answering: boolean; managedBy: string };
  postgres: { url: string; answering: boolean; managedBy: string };
}

export async function infraStatus(config: InfraTarget, settings: Paths = infraSettings): Promise<InfraStatus> {
  const state = readState(settings);
  const broker = nativeBroker(config, settings);
  const kafkaManager = state.docker
    ? "docker compose"
    : broker.pid
      ? `native broker, pid ${broker.pid}`
      : "not started by this project";
  const postgresManager = state.docker
    ? "docker compose"
    : state.postgres?.startedByUs
      ? `private cluster under ${join(settings.INFRA_CACHE_DIR, "postgres")}`
      : "external server (not started by this project)";
  return {
    kafka: { brokers: config.KAFKA_BROKERS, answering: await kafkaAnswers(config.KAFKA_BROKERS), managedBy: kafkaManager },
    postgres: {
      url: withDatabase(config.DATABASE_URL, new URL(config.DATABASE_URL).pathname.slice(1)),
      answering: await postgresAnswers(config.DATABASE_URL),
      managedBy: postgresManager,
    },
  };
}
