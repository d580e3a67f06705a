import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type Admin, Kafka, type KafkaMessage, logLevel, type Producer } from "kafkajs";
import { afterAll, beforeAll } from "vitest";

/** The package's own test helpers (it imports nothing of the repository it lives in). */

/** The broker the tests run against: KAFKA_BROKERS, else 127.0.0.1:9092. */
export const BROKERS = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");

export function testKafka(brokers = BROKERS): Kafka {
  return new Kafka({ clientId: "trigger-tests", brokers, logLevel: logLevel.NOTHING, retry: { retries: 3 } });
}

export function uniqueName(prefix: string): string {
  return `${prefix}.${randomUUID().slice(0, 8)}`;
}

/** Polls `probe` until `accept` holds; fails after `timeoutMs` with the last value. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await probe();
      if (accept(last)) return last;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: timed out after ${timeoutMs} ms; last value ${JSON.stringify(last)}`);
    await sleep(intervalMs);
  }
}

/** The group's committed offset by partition (partitions without a commit left out). */
export async function committedByPartition(admin: Admin, groupId: string, topic: string): Promise<Record<number, number>> {
  const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return Object.fromEntries(
    (result?.partitions ?? [])
      .filter(({ offset }) => Number(offset) >= 0)
      .map(({ partition, offset }) => [partition, Number(offset)]),
  );
}

/** Every message of `topic`, read with a group of its own until each partition's position reached its end offset. */
export async function readAllMessages(kafka: Kafka, topic: string, timeoutMs = 30_000): Promise<KafkaMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = (await admin.fetchTopicOffsets(topic)).filter(({ high }) => Number(high) > 0);
  await admin.disconnect();
  if (ends.length === 0) return [];
  const consumer = kafka.consumer({ groupId: uniqueName("test.reader") });
  const messages: KafkaMessage[] = [];
  const positions = new Map<number, number>();
  const seen = new Set<string>();
  const done = () => ends.every(({ partition, high }) => (positions.get(partition) ?? 0) >= Number(high));
  let timer: NodeJS.Timeout | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`topic ${topic}: read ${messages.length} messages in ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        const next = Number(payload.lastOffset) + 1;
        if (next > (positions.get(payload.partition) ?? 0)) positions.set(payload.partition, next);
        if (done()) resolve();
      });
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          if (seen.has(`${partition}:${message.offset}`)) return;
          seen.add(`${partition}:${message.offset}`);
          messages.push(message);
        },
      });
    });
    return messages;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
}

export interface KafkaFixture {
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  /** A new topic `<prefix>.<random><suffix>`, deleted after the file's tests. */
  newTopic(partitions?: number, suffix?: string): Promise<string>;
}

/** A test file's broker access: an admin and a producer connected for its tests, its topics deleted after them. */
export function useKafkaFixture(topicPrefix: string): KafkaFixture {
  const kafka = testKafka();
  const admin = kafka.admin();
  const producer = kafka.producer();
  const topics: string[] = [];
  beforeAll(async () => {
    await Promise.all([admin.connect(), producer.connect()]);
  });
  afterAll(async () => {
    await admin.deleteTopics({ topics }).catch(() => {});
    await Promise.allSettled([admin.disconnect(), producer.disconnect()]);
  });
  async function newTopic(partitions = 1, suffix = ""): Promise<string> {
    const topic = `${uniqueName(topicPrefix)}${suffix}`;
    topics.push(topic);
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] });
    return topic;
  }
  return { kafka, admin, producer, newTopic };
}
