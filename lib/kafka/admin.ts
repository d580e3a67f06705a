import { config } from "../config.js";
import { kafka } from "./client.js";

/** Creates each topic that is missing, with the configured partition count. Returns the ones it created. */
export async function ensureTopics(topics: string[], partitions = config.TOPIC_PARTITIONS): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
      });
    }
    return missing;
  } finally {
    await admin.disconnect();
  }
}
