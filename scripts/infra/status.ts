import { join } from "node:path";
import { type NativeKafkaCluster, nodesAnswering, quorumStatus } from "./kafka-cluster.js";
import { kafkaAnswers } from "./kafka-probe.js";
import { postgresAnswers } from "./postgres.js";
import { infraSettings } from "./settings.js";
import { type InfraPaths, type InfraTarget, nativeBroker, readState, recordedCluster } from "./state.js";

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

async function clusterStatus(cluster: NativeKafkaCluster, settings: InfraPaths): Promise<NodeStatus[]> {
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

export async function infraStatus(config: InfraTarget, settings: InfraPaths = infraSettings): Promise<InfraStatus> {
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
