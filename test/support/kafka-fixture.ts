import type { Admin, Kafka, Producer } from "kafkajs";
import { afterAll, beforeAll } from "vitest";
import { testKafka, uniqueName } from "./kafka.js";

export interface KafkaFixture {
  kafka: Kafka;
  /** Connected for the file's tests. */
  admin: Admin;
  /** Connected for the file's tests. */
  producer: Producer;
  /** A new topic named `<topicPrefix>.<random><suffix>`, deleted after the file's tests. */
  newTopic(partitions?: number, suffix?: string): Promise<string>;
}

/**
 * A test file's own broker access: an admin and a producer connected before its tests, and the topics it
 * creates deleted after them. Call at the file's top level: it registers beforeAll/afterAll hooks.
 */
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
