import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { kafkaAnswers, kafkaBrokerCount } from "./kafka-probe.js";
import { KAFKA_VERSION } from "./maven-jars.js";
import { ensureDatabase, freePort, postgresAnswers } from "./postgres.js";
import { commandSucceeds } from "./process.js";
import { infraSettings } from "./settings.js";
import {
  type InfraPaths,
  type InfraState,
  type InfraTarget,
  nativeBroker,
  nativeCluster,
  privatePostgres,
  readState,
  recordedCluster,
  writeState,
} from "./state.js";

export interface InfraUpOptions {
  /** Native brokers to start when Kafka does not answer (default KAFKA_BROKER_COUNT, 1). */
  brokers?: number;
}

export class PrerequisiteError extends Error {
  override name = "PrerequisiteError";
}

const COMPOSE_FILE = resolve(import.meta.dirname, "../../docker-compose.yml");

export function dockerEngineAnswers(): boolean {
  return commandSucceeds("docker", ["info"], 5_000);
}

export type Progress = (message: string) => void;

/**
 * Brings Kafka and PostgreSQL up: with Docker where an engine answers, natively elsewhere.
 * Idempotent: whatever already answers is used as it is. Returns the database URL to use.
 */
export async function infraUp(
  config: InfraTarget,
  progress: Progress = () => {},
  settings: InfraPaths = infraSettings,
  options: InfraUpOptions = {},
): Promise<InfraState> {
  const state = readState(settings);
  const count = options.brokers ?? settings.KAFKA_BROKER_COUNT ?? 1;
  const found = await kafkaBrokerCount(config.KAFKA_BROKERS);
  if (found > 0 && found < count) {
    throw new PrerequisiteError(
      `Kafka at ${config.KAFKA_BROKERS.join(",")} answers with ${found} broker(s), not the ${count} asked for: ` +
        "stop it first (npm run infra:down stops what infra:up started) or use it as it is",
    );
  }
  let kafkaUp = found > 0;
  let postgresUp = await postgresAnswers(config.DATABASE_URL);
  let databaseUrl = config.DATABASE_URL;

  if ((!kafkaUp || !postgresUp) && dockerEngineAnswers()) {
    // More than one broker: compose's `cluster` profile adds kafka-2 and kafka-3 to the same ZooKeeper, the
    // internal topics replicated 3 times (min.insync 2) through the variables the file interpolates.
    const cluster = count > 1 ? ["--profile", "cluster"] : [];
    const services = ["zookeeper", "kafka", ...(count > 1 ? ["kafka-2", "kafka-3"] : []), "postgres"];
    progress(`docker engine found: docker compose ${[...cluster, "up", "-d", "--wait", ...services].join(" ")}`);
    const replication = count > 1 ? { KAFKA_REPLICATION_FACTOR: "3", KAFKA_MIN_INSYNC_REPLICAS: "2" } : {};
    const compose = spawnSync("docker", ["compose", "-f", COMPOSE_FILE, ...cluster, "up", "-d", "--wait", ...services], {
      stdio: "inherit",
      env: { ...process.env, ...replication },
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
    if (count === 1) {
      progress(`starting Apache Kafka ${KAFKA_VERSION} (KRaft, jars from Maven Central) on ${config.KAFKA_BROKERS[0]}`);
      const broker = nativeBroker(config, settings);
      const pid = await broker.start();
      state.kafka = { pid, brokers: broker.brokers };
    } else {
      const cluster = nativeCluster(config, count, settings);
      progress(
        `starting ${count} Apache Kafka ${KAFKA_VERSION} brokers (KRaft, each also a controller; jars from Maven Central) on ${cluster.brokers.join(",")}`,
      );
      const pids = await cluster.start();
      state.kafka = {
        pid: pids[0] as number,
        brokers: cluster.brokers,
        nodes: cluster.nodes.map((node, index) => ({
          nodeId: node.nodeId,
          port: node.port,
          controllerPort: cluster.options.nodes[index]?.controllerPort as number,
          dir: node.dir,
          pid: pids[index] as number,
        })),
      };
    }
  }

  if (!postgresUp) {
    const wanted = Number(new URL(databaseUrl).port || 5432);
    const port = state.postgres?.startedByUs ? state.postgres.port : await freePort(wanted);
    progress(`no PostgreSQL answers at ${new URL(databaseUrl).host}: starting a private cluster on 127.0.0.1:${port}`);
    const server = privatePostgres(settings, port);
    await server.start();
    const url = new URL(databaseUrl);
    url.hostname = "127.0.0.1";
    url.port = String(port);
    url.username = "postgres";
    url.password = "";
    state.postgres = { url: url.toString(), port, startedByUs: true, passwordFile: server.passwordFile };
    url.password = new URL(server.url).password;
    databaseUrl = url.toString();
  }
  await ensureDatabase(databaseUrl);
  writeState(settings, state);
  return state;
}

/**
 * Stops the native broker or cluster infra:up started (as infra-state.json records it) and forgets it;
 * nothing else. For npm test and the bench, which stop a broker only when they started it.
 */
export async function stopNativeKafka(
  config: Pick<InfraTarget, "KAFKA_BROKERS" | "TOPIC_PARTITIONS">,
  progress: Progress = () => {},
  settings: InfraPaths = infraSettings,
): Promise<void> {
  const state = readState(settings);
  const cluster = recordedCluster(state, settings, config.TOPIC_PARTITIONS);
  if (cluster) {
    progress(
      `stopping the ${cluster.nodes.length} Kafka brokers (pids ${state.kafka?.nodes?.map((node) => node.pid).join(", ")})`,
    );
    await cluster.stop();
  } else if (state.kafka) {
    progress(`stopping the Kafka broker (pid ${state.kafka.pid})`);
    await nativeBroker(config, settings).stop();
  } else {
    return;
  }
  state.kafka = undefined;
  writeState(settings, state);
}

/** Stops only what infraUp started; data directories stay, so a later up finds every message and row. */
export async function infraDown(
  config: Pick<InfraTarget, "KAFKA_BROKERS" | "TOPIC_PARTITIONS">,
  progress: Progress = () => {},
  settings: InfraPaths = infraSettings,
): Promise<void> {
  await stopNativeKafka(config, progress, settings);
  const state = readState(settings);
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
