import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { KAFKA_VERSION, kafkaAnswers, kafkaBrokerCount, NativeKafkaBroker } from "./kafka-broker.js";
import { clusterLayout, NativeKafkaCluster, type NodeLayout, nodesAnswering, quorumStatus } from "./kafka-cluster.js";
import { ensureDatabase, freePort, PrivatePostgres, postgresAnswers } from "./postgres.js";
import { commandSucceeds } from "./process.js";
import { type InfraSettings, infraSettings, infraStateFile } from "./settings.js";

/**
 * scripts/infra: what brings Kafka and PostgreSQL up on a developer machine. This file is the one
 * face tests and bench import (never kafka-broker.ts, postgres.ts or settings.ts directly).
 */
export {
  type ClientSecurity,
  ensureKafkaJars,
  ensureMavenJars,
  internalReplication,
  KAFKA_VERSION,
  kafkaAnswers,
  kafkaBrokerCount,
  type NativeBrokerOptions,
  NativeKafkaBroker,
  type SaslSslListener,
} from "./kafka-broker.js";
export {
  clusterLayout,
  type NativeClusterOptions,
  NativeKafkaCluster,
  type NodeLayout,
  type QuorumStatus,
  quorumStatus,
} from "./kafka-cluster.js";
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
  applyRecordedInfra,
  applyRecordedKafkaBrokers,
  type InfraSettings,
  InfraSettingsError,
  infraSettings,
  infraStateFile,
  loadInfraSettings,
  OFFLINE_NODE_FLAGS,
  recordedDatabaseUrl,
  recordedKafkaBrokers,
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

type Paths = Pick<InfraSettings, "INFRA_CACHE_DIR" | "KAFKA_CONTROLLER_PORT"> &
  Partial<Pick<InfraSettings, "KAFKA_BROKER_COUNT">>;

/** A node of a native cluster infra:up started. */
export interface RecordedNode extends NodeLayout {
  dir: string;
  pid: number;
}

/** What infra:up started, so infra:down stops exactly that and nothing else. */
export interface InfraState {
  docker?: boolean;
  /** The native broker(s): `pid` is the first node's; `nodes` is set for a cluster of more than one. */
  kafka?: { pid: number; brokers: string[]; nodes?: RecordedNode[] };
  /** `url` without the private cluster's password: that stays in `passwordFile` (0600). */
  postgres?: { url: string; port: number; startedByUs: boolean; passwordFile?: string };
}

export interface InfraUpOptions {
  /** Native brokers to start when Kafka does not answer (default KAFKA_BROKER_COUNT, 1). */
  brokers?: number;
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
    controllerPort: settings.KAFKA_CONTROLLER_PORT[0] ?? 9093,
    partitions: target.TOPIC_PARTITIONS,
  });
}

/**
 * The native cluster of `count` nodes (count > 1) under <cache>/kafka/cluster-<count>/node-<id>; the single
 * broker keeps its own folder (nativeBroker), so neither topology ever reads the other's data.
 */
export function nativeCluster(
  target: Pick<InfraTarget, "KAFKA_BROKERS" | "TOPIC_PARTITIONS">,
  count: number,
  settings: Paths = infraSettings,
): NativeKafkaCluster {
  return new NativeKafkaCluster({
    dir: join(settings.INFRA_CACHE_DIR, "kafka", `cluster-${count}`),
    cacheDir: settings.INFRA_CACHE_DIR,
    nodes: clusterLayout(target.KAFKA_BROKERS, settings.KAFKA_CONTROLLER_PORT, count),
    partitions: target.TOPIC_PARTITIONS,
  });
}

/** The recorded cluster's nodes, rebuilt from infra-state.json (ports and folders as they were started). */
function recordedCluster(state: InfraState, settings: Paths, partitions: number): NativeKafkaCluster | undefined {
  const nodes = state.kafka?.nodes;
  if (!nodes?.length) return undefined;
  const [first] = nodes;
  return new NativeKafkaCluster({
    dir: dirname(first?.dir ?? ""),
    cacheDir: settings.INFRA_CACHE_DIR,
    nodes: nodes.map(({ nodeId, port, controllerPort }) => ({ nodeId, port, controllerPort })),
    partitions,
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
  settings: Paths = infraSettings,
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
  settings: Paths = infraSettings,
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

/** One node of the native cluster: where, whether it answers, and its part in the KRaft quorum. */
export interface NodeStatus {
  nodeId: number;
  address: string;
  pid: number | undefined;
  answering: boolean;
  /** process.roles (broker,controller) and the quorum's view: "active controller" or "voter". */
  role: string;
  dir: string;
}

export interface InfraStatus {
  kafka: { brokers: string[]; answering: boolean; managedBy: string; nodes?: NodeStatus[] };
  postgres: { url: string; answering: boolean; managedBy: string };
}

async function clusterStatus(cluster: NativeKafkaCluster, settings: Paths): Promise<NodeStatus[]> {
  const [answering, quorum] = await Promise.all([
    nodesAnswering(cluster.nodes),
    quorumStatus(settings.INFRA_CACHE_DIR, cluster.brokers).catch(() => undefined),
  ]);
  return cluster.nodes.map((node, index) => {
    const part = !quorum
      ? "quorum unknown"
      : quorum.leaderId === node.nodeId
        ? "active controller"
        : quorum.voters.includes(node.nodeId)
          ? "voter"
          : "observer";
    return {
      nodeId: node.nodeId,
      address: node.brokers[0] as string,
      pid: node.pid,
      answering: answering[index] ?? false,
      role: `${node.roles.replace(",", "+")} (${part})`,
      dir: node.dir,
    };
  });
}

/** A database URL fit to print: no password (the private cluster's comes from its file, compose's from the environment). */
function withoutPassword(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.password = "";
  return url.toString();
}

export async function infraStatus(config: InfraTarget, settings: Paths = infraSettings): Promise<InfraStatus> {
  const state = readState(settings);
  const cluster = recordedCluster(state, settings, config.TOPIC_PARTITIONS);
  const broker = nativeBroker(config, settings);
  const kafkaManager = state.docker
    ? "docker compose"
    : cluster
      ? `native cluster of ${cluster.nodes.length}, pids ${cluster.nodes.map((node) => node.pid ?? "-").join(", ")}`
      : broker.pid
        ? `native broker, pid ${broker.pid}`
        : "not started by this project";
  const postgresManager = state.docker
    ? "docker compose"
    : state.postgres?.startedByUs
      ? `private cluster under ${join(settings.INFRA_CACHE_DIR, "postgres")}`
      : "external server (not started by this project)";
  return {
    kafka: {
      brokers: config.KAFKA_BROKERS,
      answering: await kafkaAnswers(config.KAFKA_BROKERS),
      managedBy: kafkaManager,
      ...(cluster ? { nodes: await clusterStatus(cluster, settings) } : {}),
    },
    postgres: {
      url: withoutPassword(config.DATABASE_URL),
      answering: await postgresAnswers(config.DATABASE_URL),
      managedBy: postgresManager,
    },
  };
}
