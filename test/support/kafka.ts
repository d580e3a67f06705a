import { randomUUID } from "node:crypto";
import { Kafka, type KafkaMessage, logLevel } from "kafkajs";

/** Test-side Kafka access, independent of the app's client module, for asserting what is in the broker. */
export function testKafka(brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",")): Kafka {
  return new Kafka({ clientId: "txlog-tests", brokers, logLevel: logLevel.NOTHING, retry: { retries: 3 } });
}

export function uniqueName(prefix: string): string {
  return `${prefix}.${randomUUID().slice(0, 8)}`;
}

/**
 * Reads `topic` from the beginning with a consumer group of its own until `until` holds for the messages
 * read so far; fails after `timeoutMs` naming how many were read. Returns every message read.
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  until: (messages: KafkaMessage[]) => boolean,
  timeoutMs = 30_000,
): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName("test.reader") });
  const messages: KafkaMessage[] = [];
  let timer: NodeJS.Timeout | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`topic ${topic}: read ${messages.length} messages in ${timeoutMs} ms without the expected ones`)),
        timeoutMs,
      );
      void consumer.run({
        eachMessage: async ({ message }) => {
          messages.push(message);
          if (until(messages)) resolve();
        },
      });
    });
    return messages;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
}

/** Every message produced to `topic` so far: reads until the count reaches the sum of its end offsets. */
export async function readAllMessages(kafka: Kafka, topic: string, timeoutMs = 30_000): Promise<KafkaMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const total = (await admin.fetchTopicOffsets(topic)).reduce((sum, { high }) => sum + Number(high), 0);
  await admin.disconnect();
  if (total === 0) return [];
  return readTopic(kafka, topic, (messages) => messages.length >= total, timeoutMs);
}
