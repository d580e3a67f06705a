import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../../lib/config.js";
import { KAFKA_VERSION, kafkaAnswers, NativeKafkaBroker } from "./kafka-broker.js";
import { ensureDatabase, freePort, PrivatePostgres, postgresAnswers, withDatabase } from "./postgres.js";
import { commandSucceeds } from "./process.js";

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

const stateFile = (config: Config) => join(config.INFRA_CACHE_DIR, "infra-state.json");

export function readState(config: Config): InfraState {
  const file = stateFile(config);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as InfraState) : {};
}

function writeState(config: Config, state: InfraState): void {
  mkdirSync(config.INFRA_CACHE_DIR, { recursive: true });
  writeFileSync(stateFile(config), `${JSON.stringify(state, null, 2)}\n`);
}

export function dockerEngineAnswers(): boolean {
  return commandSucceeds("docker", ["info"], 5_000);
}

export function nativeBroker(config: Config): NativeKafkaBroker {
  const [first = "127.0.0.1:9092"] = config.KAFKA_BROKERS;
  return new NativeKafkaBroker({
    dir: join(config.INFRA_CACHE_DIR, "kafka", "broker"),
    cacheDir: config.INFRA_CACHE_DIR,
    port: Number(first.split(":")[1]),
    controllerPort: config.KAFKA_CONTROLLER_PORT,
    partitions: config.TOPIC_PARTITIONS,
  });
}

function privatePostgres(config: Config, port: number): PrivatePostgres {
  return new PrivatePostgres({ dir: join(config.INFRA_CACHE_DIR, "postgres"), port });
}

export type Progress = (message: string) => void;

/**
 * Brings Kafka and PostgreSQL up: with Docker where an engine answers, natively elsewhere.
 * Idempotent: whatever already answers is used as it is. Returns the database URL to use.
 */
export async function infraUp(config: Config, progress: Progress = () => {}): Promise<InfraState> {
  const state = readState(config);
  let kafkaUp = await kafkaAnswers(config.KAFKA_BROKERS);
  let postgresUp = await postgresAnswers(config.DATABASE_URL);

  if ((!kafkaUp || !postgresUp) && dockerEngineAnswers()) {
    progress("docker engine found: docker compose up -d --wait zookeeper kafka postgres");
    const compose = spawnSync("docker", ["compose", "-f", COMPOSE_FILE, "up", "-d", "--wait", "zookeeper", "kafka", "postgres"], {
      stdio: "inherit",
    });
    if (compose.status !== 0) throw new Error("docker compose up failed (see its output above)");
    state.docker = true;
    kafkaUp = await kafkaAnswers(config.KAFKA_BROKERS);
    postgresUp = await postgresAnswers(config.DATABASE_URL);
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
    const broker = nativeBroker(config);
    const pid = await broker.start();
    state.kafka = { pid, brokers: broker.brokers };
  }

  let databaseUrl = config.DATABASE_URL;
  if (!postgresUp) {
    const wanted = Number(new URL(databaseUrl).port || 5432);
    const port = state.postgres?.port ?? (await freePort(wanted));
    progress(`no PostgreSQL answers at ${new URL(databaseUrl).host}: starting a private cluster on 127.0.0.1:${port}`);
    await privatePostgres(config, port).start();
    const url = new URL(databaseUrl);
    url.hostname = "127.0.0.1";
    url.port = String(port);
    url.username = "postgres";
    url.password = "";
    databaseUrl = url.toString();
    state.postgres = { url: databaseUrl, port, startedByUs: true };
  }
  await ensureDatabase(databaseUrl);
  writeState(config, state);
  return state;
}

/** Stops only what infraUp started; data directories stay, so a later up finds every message and row. */
export async function infraDown(config: Config, progress: Progress = () => {}): Promise<void> {
  const state = readState(config);
  if (state.kafka) {
    progress(`stopping the Kafka broker (pid ${state.kafka.pid})`);
    await nativeBroker(config).stop();
    state.kafka = undefined;
  }
  if (state.postgres?.startedByUs) {
    progress(`stopping the private PostgreSQL on port ${state.postgres.port}`);
    await privatePostgres(config, state.postgres.port).stop();
  }
  if (state.docker) {
    progress("docker compose stop");
    spawnSync("docker", ["compose", "-f", COMPOSE_FILE, "stop"], { stdio: "inherit" });
    state.docker = undefined;
  }
  writeState(config, state);
}

export interface InfraStatus {
  kafka: { brokers: string[]; answering: boolean; managedBy: string };
  postgres: { url: string; answering: boolean; managedBy: string };
}

export async function infraStatus(config: Config): Promise<InfraStatus> {
  const state = readState(config);
  const broker = nativeBroker(config);
  const kafkaManager = state.docker
    ? "docker compose"
    : broker.pid
      ? `native broker, pid ${broker.pid}`
      : "not started by this project";
  const postgresManager = state.docker
    ? "docker compose"
    : state.postgres?.startedByUs
      ? `private cluster under ${join(config.INFRA_CACHE_DIR, "postgres")}`
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
