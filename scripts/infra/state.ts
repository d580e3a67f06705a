import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { NativeKafkaBroker } from "./kafka-broker.js";
import { clusterLayout, NativeKafkaCluster, type NodeLayout } from "./kafka-cluster.js";
import { PrivatePostgres } from "./postgres.js";
import { type InfraSettings, infraSettings, infraStateFile } from "./settings.js";

/** What infra:up started (infra-state.json) and where each part it starts lives. */
/**
 * The runtime settings infra works on, passed in (lib/config.ts's fields of the same names: a Config fits).
 * The infrastructure-only ones (cache directory, controller port) come from settings.ts.
 */
export interface InfraTarget {
  KAFKA_BROKERS: string[];
  TOPIC_PARTITIONS: number;
  DATABASE_URL: string;
}

export type InfraPaths = Pick<InfraSettings, "INFRA_CACHE_DIR" | "KAFKA_CONTROLLER_PORT"> &
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

export function readState(settings: InfraPaths = infraSettings): InfraState {
  const file = infraStateFile(settings.INFRA_CACHE_DIR);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as InfraState) : {};
}

export function writeState(settings: InfraPaths, state: InfraState): void {
  mkdirSync(settings.INFRA_CACHE_DIR, { recursive: true });
  writeFileSync(infraStateFile(settings.INFRA_CACHE_DIR), `${JSON.stringify(state, null, 2)}\n`);
}

export function nativeBroker(
  target: Pick<InfraTarget, "KAFKA_BROKERS" | "TOPIC_PARTITIONS">,
  settings: InfraPaths = infraSettings,
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
  settings: InfraPaths = infraSettings,
): NativeKafkaCluster {
  return new NativeKafkaCluster({
    dir: join(settings.INFRA_CACHE_DIR, "kafka", `cluster-${count}`),
    cacheDir: settings.INFRA_CACHE_DIR,
    nodes: clusterLayout(target.KAFKA_BROKERS, settings.KAFKA_CONTROLLER_PORT, count),
    partitions: target.TOPIC_PARTITIONS,
  });
}

/** The recorded cluster's nodes, rebuilt from infra-state.json (ports and folders as they were started). */
export function recordedCluster(state: InfraState, settings: InfraPaths, partitions: number): NativeKafkaCluster | undefined {
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

export function privatePostgres(settings: InfraPaths, port: number): PrivatePostgres {
  return new PrivatePostgres({ dir: join(settings.INFRA_CACHE_DIR, "postgres"), port });
}
