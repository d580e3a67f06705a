import { randomUUID } from "node:crypto";
import { Kafka, type KafkaMessage, logLevel } from "kafkajs";

/** Test-side Kafka access, independent of the app's client module, for asserting what is in the broker. */
export function testKafka(brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",")): Kafka {
  return new Kafka({ clientId: "txlog-tests", brokers, logLevel: logLevel.NOTHING, retry: { retries: 3 } });
}

export function uniqueName(prefix: string): string {
  return `${prefix}.${randomUUID().slice(0, 8)}`;
}

export interface ReadOptions {
  /**
   * Also read messages of open and aborted transactions (isolation read_uncommitted). By default a reader
   * sees only what a transaction committed, as the app's consumers do (KafkaJS's readUncommitted: false).
   */
  readUncommitted?: boolean;
}

/**
 * Reads `topic` from the beginning with a consumer group of its own until `until` holds for the messages
 * read so far; fails after `timeoutMs` naming how many were read. Returns every message read, each record
 * once (a record at a partition and offset already read is skipped; duplicates in the log still show).
 * `positions` holds, per partition, the offset after the last record fetched, control records and
 * aborted messages included (they take offsets but are never handed over).
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  until: (messages: KafkaMessage[], positions: ReadonlyMap<number, number>) => boolean,
  timeoutMs = 30_000,
  options: ReadOptions = {},
): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName("test.reader"), readUncommitted: options.readUncommitted ?? false });
  const messages: KafkaMessage[] = [];
  const positions = new Map<number, number>();
  const seen = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`topic ${topic}: read ${messages.length} messages in ${timeoutMs} ms without the expected ones`)),
        timeoutMs,
      );
      // Emitted for every fetched batch, also one holding only control records or aborted messages.
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.topic !== topic) return;
        const next = Number(payload.lastOffset) + 1;
        if (next > (positions.get(payload.partition) ?? 0)) positions.set(payload.partition, next);
        if (until(messages, positions)) resolve();
      });
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          // A rebalance of this reader's own group (e.g. on a loaded machine) hands a partition over again
          // from the last auto-commit: the same record fetched twice is one record in the log, not two.
          const where = `${partition}:${message.offset}`;
          if (seen.has(where)) return;
          seen.add(where);
          messages.push(message);
          if (until(messages, positions)) resolve();
        },
      });
    });
    return messages;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
}

/**
 * Every message produced to `topic` so far: reads until each partition's position reaches its end offset
 * (end offsets count transaction markers and aborted messages too, so counting messages would not do).
 */
export async function readAllMessages(
  kafka: Kafka,
  topic: string,
  timeoutMs = 30_000,
  options: ReadOptions = {},
): Promise<KafkaMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = (await admin.fetchTopicOffsets(topic)).filter(({ high }) => Number(high) > 0);
  await admin.disconnect();
  if (ends.length === 0) return [];
  const reachedEnd = (_: KafkaMessage[], positions: ReadonlyMap<number, number>) =>
    ends.every(({ partition, high }) => (positions.get(partition) ?? 0) >= Number(high));
  return readTopic(kafka, topic, reachedEnd, timeoutMs, options);
}
