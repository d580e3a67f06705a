import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { NativeKafkaBroker } from "./kafka-broker.js";
import { type ClientSecurity, kafkaAnswers, kafkaBrokerCount } from "./kafka-probe.js";
import { ensureKafkaJars, KAFKA_VERSION } from "./maven-jars.js";
import { waitFor } from "./process.js";

const run = promisify(execFile);
const QUORUM_STATUS_SOURCE = resolve(dirname(fileURLToPath(import.meta.url)), "../../infra/kafka/QuorumStatus.java");

/** Where one node of a native cluster listens. */
export interface NodeLayout {
  nodeId: number;
  port: number;
  controllerPort: number;
}

/**
 * The ports of a cluster of `count` nodes: KAFKA_BROKERS's when it lists that many, else from its first
 * port upwards in steps of 2 (9092, 9094, 9096); controllers likewise from KAFKA_CONTROLLER_PORT's list
 * (9093, 9095, 9097), so one node's client and controller ports sit side by side.
 */
export function clusterLayout(brokers: readonly string[], controllerPorts: readonly number[], count: number): NodeLayout[] {
  const clientPorts = brokers.map((broker) => Number(broker.split(":").at(-1)));
  const [firstClient = 9092] = clientPorts;
  const [firstController = 9093] = controllerPorts;
  if (brokers.length !== 1 && brokers.length !== count) {
    throw new Error(
      `KAFKA_BROKERS lists ${brokers.length} brokers; a native cluster of ${count} needs 1 (the first) or ${count}`,
    );
  }
  if (controllerPorts.length !== 1 && controllerPorts.length !== count) {
    throw new Error(
      `KAFKA_CONTROLLER_PORT lists ${controllerPorts.length} ports; a native cluster of ${count} needs 1 (the first) or ${count}`,
    );
  }
  return Array.from({ length: count }, (_, index) => ({
    nodeId: index + 1,
    port: brokers.length === count ? (clientPorts[index] as number) : firstClient + 2 * index,
    controllerPort: controllerPorts.length === count ? (controllerPorts[index] as number) : firstController + 2 * index,
  }));
}

export interface NativeClusterOptions {
  /** One folder per node under it: node-<id>/ (data/, logs/, server.properties, broker.pid). */
  dir: string;
  cacheDir: string;
  nodes: NodeLayout[];
  partitions?: number;
  heapMb?: number;
  /** More server.properties entries for every node (tests: heartbeat and session timeouts). */
  properties?: Record<string, string | number | boolean>;
  probeSecurity?: ClientSecurity;
}

/**
 * Several KRaft nodes from the same jars on 127.0.0.1, each a broker and a voter of the metadata quorum,
 * each with its own port, controller port, data directory, pid and logs. Internal topics get 3 copies and
 * min.insync.replicas 2 on three nodes (kafka-broker.ts internalReplication).
 */
export class NativeKafkaCluster {
  readonly nodes: NativeKafkaBroker[];
  readonly brokers: string[];

  constructor(readonly options: NativeClusterOptions) {
    const voters = options.nodes.map(({ nodeId, controllerPort }) => ({ nodeId, controllerPort }));
    this.nodes = options.nodes.map(
      ({ nodeId, port, controllerPort }) =>
        new NativeKafkaBroker({
          dir: join(options.dir, `node-${nodeId}`),
          cacheDir: options.cacheDir,
          port,
          controllerPort,
          nodeId,
          voters,
          partitions: options.partitions,
          heapMb: options.heapMb,
          properties: options.properties,
          probeSecurity: options.probeSecurity,
        }),
    );
    this.brokers = this.nodes.flatMap((node) => node.brokers);
  }

  node(nodeId: number): NativeKafkaBroker {
    const found = this.nodes.find((node) => node.nodeId === nodeId);
    if (!found) throw new Error(`no node ${nodeId} in the cluster`);
    return found;
  }

  /**
   * Starts every node that is not running, all at once (a node answers only once a majority of voters runs),
   * and returns once the cluster's metadata lists every broker: a topic created before would get fewer
   * replicas (ensureTopics sizes replication by the brokers the cluster reports).
   */
  async start(): Promise<number[]> {
    ensureKafkaJars(this.options.cacheDir);
    const pids = await Promise.all(this.nodes.map((node) => node.start()));
    // Each node answers from its own copy of the metadata, which learns of the others' registrations (and
    // their unfencing) a moment later: three rounds in a row, as one round passed and a topic created right
    // after still found 2 of 3 brokers (cluster test, twice).
    let rounds = 0;
    await waitFor(
      `all ${this.nodes.length} brokers registered, as every node sees it`,
      async () => {
        const seen = await Promise.all(
          this.nodes.map((node) => kafkaBrokerCount(node.brokers, 1_000, this.options.probeSecurity)),
        );
        rounds = seen.every((count) => count === this.nodes.length) ? rounds + 1 : 0;
        return rounds >= 3;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    return pids;
  }

  /** Graceful stop of every node at once (one at a time, the last would wait for a quorum that has gone). */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
  }

  /** The metadata quorum as Kafka's own Admin client reports it; undefined when no node answers in time. */
  async quorum(): Promise<QuorumStatus | undefined> {
    return quorumStatus(this.options.cacheDir, this.brokers);
  }
}

export interface QuorumStatus {
  /** The active controller's node id. */
  leaderId: number;
  leaderEpoch: number;
  voters: number[];
  observers: number[];
}

/**
 * Runs infra/kafka/QuorumStatus.java (compiled once into the cache) against `brokers`: the only way to name
 * the active controller without Kafka's heavy kafka-tools jar. ~1-2 s (a JVM).
 */
export async function quorumStatus(cacheDir: string, brokers: readonly string[]): Promise<QuorumStatus | undefined> {
  const libs = ensureKafkaJars(cacheDir);
  // Not tools-<version>: the bench resolves Kafka's kafka-tools jars there, and its download must find it absent.
  const classes = join(cacheDir, "kafka", `quorum-status-${KAFKA_VERSION}`);
  const quiet = join(classes, "log4j.properties");
  if (!existsSync(join(classes, "QuorumStatus.class"))) {
    mkdirSync(classes, { recursive: true });
    writeFileSync(quiet, "log4j.rootLogger=OFF\n");
    const javac = spawnSync("javac", ["-cp", `${libs}/*`, "-d", classes, QUORUM_STATUS_SOURCE], { encoding: "utf8" });
    if (javac.status !== 0) throw new Error(`javac QuorumStatus.java failed:\n${javac.stdout}${javac.stderr}`);
  }
  try {
    const { stdout } = await run(
      "java",
      [`-Dlog4j.configuration=file:${quiet}`, "-cp", `${classes}:${libs}/*`, "QuorumStatus", brokers.join(",")],
      { timeout: 20_000 },
    );
    return JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as QuorumStatus;
  } catch {
    return undefined;
  }
}

/** Whether each node answers a Metadata request on its own port. */
export async function nodesAnswering(nodes: readonly NativeKafkaBroker[]): Promise<boolean[]> {
  return Promise.all(nodes.map((node) => kafkaAnswers(node.brokers, 1_500)));
}
