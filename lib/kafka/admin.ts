import type { Admin, Kafka } from "kafkajs";
import { config } from "../config.js";
import { kafka as defaultKafka } from "./client.js";

export interface Replication {
  replicationFactor: number;
  minInsyncReplicas: number;
}

/**
 * What a cluster of `brokers` can hold: one copy per broker up to three, and writes (acks=all) wait for all
 * but one of them: 1/1 on one broker, 2/1 on two, 3/2 on three or more. Losing one broker then neither
 * loses an acknowledged write nor stops accepting new ones.
 */
export function defaultReplication(brokers: number): Replication {
  const replicationFactor = Math.max(1, Math.min(3, brokers));
  return { replicationFactor, minInsyncReplicas: Math.max(1, replicationFactor - 1) };
}

export interface TopicOptions {
  partitions?: number;
  /** Default: KAFKA_REPLICATION_FACTOR, else from the cluster's size (defaultReplication). */
  replicationFactor?: number;
  /** Default: KAFKA_MIN_INSYNC_REPLICAS, else from the replication factor. */
  minInsyncReplicas?: number;
  /** Another cluster than KAFKA_BROKERS (tests). */
  kafka?: Kafka;
}

export class TopicReplicationError extends Error {
  override name = "TopicReplicationError";
}

/** How long a configured replication factor waits for enough brokers to show in the metadata. */
const BROKERS_GRACE_MS = 10_000;

/** The replication to create topics with: options, then configuration, then what the cluster's size allows. */
export async function topicReplication(admin: Admin, options: TopicOptions = {}): Promise<Replication> {
  let { brokers } = await admin.describeCluster();
  const replicationFactor =
    options.replicationFactor ?? config.KAFKA_REPLICATION_FACTOR ?? defaultReplication(brokers.length).replicationFactor;
  const minInsyncReplicas =
    options.minInsyncReplicas ?? config.KAFKA_MIN_INSYNC_REPLICAS ?? defaultReplication(replicationFactor).minInsyncReplicas;
  // A broker that just started or restarted is left out of the metadata until the controller unfenced it,
  // and each broker learns of that a moment later: give a configured factor a few seconds to be met.
  const deadline = Date.now() + BROKERS_GRACE_MS;
  while (replicationFactor > brokers.length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    ({ brokers } = await admin.describeCluster());
  }
  if (replicationFactor > brokers.length) {
    throw new TopicReplicationError(
      `replication factor ${replicationFactor} needs at least ${replicationFactor} brokers; the cluster has ${brokers.length}`,
    );
  }
  if (minInsyncReplicas > replicationFactor) {
    throw new TopicReplicationError(
      `min.insync.replicas ${minInsyncReplicas} exceeds the replication factor ${replicationFactor}`,
    );
  }
  return { replicationFactor, minInsyncReplicas };
}

/** Metadata errors a just-created topic answers with until every broker has it and its partitions have leaders. */
const NOT_YET = new Set(["UNKNOWN_TOPIC_OR_PARTITION", "LEADER_NOT_AVAILABLE"]);

/** Until every partition of `topics` has a leader in the metadata the cluster answers with (at most `timeoutMs`). */
async function waitForLeaders(admin: Admin, topics: string[], partitions: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics });
      const ready = metadata.topics.every(
        (topic) => topic.partitions.length >= partitions && topic.partitions.every((partition) => partition.leader >= 0),
      );
      if (ready) return;
    } catch (error) {
      if (!NOT_YET.has((error as { type?: string }).type ?? "") || Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline)
      throw new TopicReplicationError(`topics ${topics.join(", ")} have no leaders after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Creates each topic that is missing, with the configured partition count, replication factor and
 * min.insync.replicas (topic-level, so the producer's acks=all waits for that many copies). Returns the
 * ones it created; existing topics are left as they are.
 */
export async function ensureTopics(topics: string[], options: number | TopicOptions = {}): Promise<string[]> {
  const { partitions = config.TOPIC_PARTITIONS, ...rest } = typeof options === "number" ? { partitions: options } : options;
  const admin = (rest.kafka ?? defaultKafka).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length) {
      const { replicationFactor, minInsyncReplicas } = await topicReplication(admin, rest);
      await admin.createTopics({
        // KafkaJS's own wait gives up when the broker it asks has not heard of the topic yet (several brokers).
        waitForLeaders: false,
        topics: missing.map((topic) => ({
          topic,
          numPartitions: partitions,
          replicationFactor,
          configEntries: [{ name: "min.insync.replicas", value: String(minInsyncReplicas) }],
        })),
      });
      await waitForLeaders(admin, missing, partitions);
    }
    return missing;
  } finally {
    await admin.disconnect();
  }
}

/** Each topic's partition count from the cluster's metadata; throws (KafkaJS's UNKNOWN_TOPIC_OR_PARTITION) for a missing topic. */
export async function fetchPartitionCounts(topics: string[], kafka: Kafka = defaultKafka): Promise<Map<string, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics });
    return new Map(metadata.topics.map(({ name, partitions }) => [name, partitions.length]));
  } finally {
    await admin.disconnect();
  }
}
