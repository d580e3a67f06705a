import { CompressionTypes, type Message } from "kafkajs";
import { kafka } from "../../lib/kafka/client.js";

/**
 * Fills `topic` as fast as the broker takes it: a plain (non-idempotent) producer, acks=all, large
 * batches with several in flight. Only for preparing stage 4; the API's own producer is what stages
 * 2, 3 and 5 measure.
 */
export async function prefillTopic(
  topic: string,
  messages: readonly Message[],
  onProgress: (sent: number) => void = () => {},
  batchSize = 5_000,
  inFlight = 4,
): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    let next = 0;
    let sent = 0;
    const lane = async () => {
      while (next < messages.length) {
        const batch = messages.slice(next, next + batchSize);
        next += batch.length;
        await producer.send({ topic, messages: [...batch], acks: -1, compression: CompressionTypes.None });
        sent += batch.length;
        onProgress(sent);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
  } finally {
    await producer.disconnect();
  }
}

/** True once the consumer group has members and every partition of `topic` is assigned (the worker is polling). */
export async function groupIsStable(groupId: string): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    return groups[0]?.state === "Stable" && (groups[0]?.members.length ?? 0) > 0;
  } finally {
    await admin.disconnect();
  }
}

/** Removes what the run created in the broker. Best effort: a failure here must not hide the results. */
export async function deleteTopicsAndGroups(topics: string[], groups: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (groups.length) await admin.deleteGroups(groups).catch(() => {});
    const existing = new Set(await admin.listTopics());
    const ours = topics.filter((topic) => existing.has(topic));
    if (ours.length) await admin.deleteTopics({ topics: ours, timeout: 10_000 }).catch(() => {});
  } finally {
    await admin.disconnect();
  }
}
