import type { Kafka } from "kafkajs";

/** Creates those of `topics` that do not exist yet (the host may create them its own way: partitions, replication). */
export type EnsureTopics = (topics: string[], kafka: Kafka) => Promise<void>;

/** The default: missing topics are created with the broker's defaults (num.partitions, default.replication.factor). */
export const ensureTopicsExist: EnsureTopics = async (topics, kafka) => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length === 0) return;
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({ topic, numPartitions: -1, replicationFactor: -1 })),
    });
  } finally {
    await admin.disconnect();
  }
};
