import type { Admin, Kafka, KafkaMessage, Producer, ProducerBatch, ProducerRecord } from "kafkajs";
import { OnFailureDestination } from "serverless-offline-kafka-trigger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deadLetterMessage } from "../../lib/consumer/dead-letters.js";
import { txlogFailedRecord } from "../../plugins/offline-kafka/binding.js";
import { readTopic, testKafka, uniqueName } from "../support/kafka.js";

/**
 * The trigger's on-failure destination against the real broker: its records are the shared dead-letter
 * builder's, and every produce request it makes holds one partition (a multi-partition send of KafkaJS
 * 2.2.4 can be acknowledged with a partition skipped, lib/kafka/partitions.ts).
 */
const kafka = testKafka();
const admin: Admin = kafka.admin();
const topic = uniqueName("test.on-failure");

/** The partitions of each produce request the destination's producer makes. */
const requests: number[][] = [];

/** `kafka` whose producers report the partitions of each send and sendBatch. */
function recordingKafka(inner: Kafka): Kafka {
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property !== "producer") return Reflect.get(target, property, receiver);
      return (...args: Parameters<Kafka["producer"]>): Producer => {
        const producer = target.producer(...args);
        const send = producer.send.bind(producer);
        const sendBatch = producer.sendBatch.bind(producer);
        producer.send = (record: ProducerRecord) => {
          requests.push([...new Set(record.messages.map(({ partition }) => partition ?? -1))]);
          return send(record);
        };
        producer.sendBatch = (batch: ProducerBatch) => {
          for (const { messages } of batch.topicMessages ?? []) {
            requests.push([...new Set(messages.map(({ partition }) => partition ?? -1))]);
          }
          return sendBatch(batch);
        };
        return producer;
      };
    },
  });
}

beforeAll(async () => {
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] });
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
});

const record = (offset: number, key: string, value: Buffer): KafkaMessage => ({
  key: Buffer.from(key),
  value,
  offset: String(offset),
  timestamp: "1796000000000",
  attributes: 0,
  headers: { origin: "test" },
});

describe("the trigger's on-failure destination", () => {
  it("sends one partition a request, each record as the shared builder makes it (a large one as a reference)", async () => {
    const destination = new OnFailureDestination(recordingKafka(kafka), topic, { format: txlogFailedRecord });
    const small = Array.from({ length: 30 }, (_, index) => record(index, `C${index}`, Buffer.from(`{"n":${index}}`)));
    const large = record(30, "C-large", Buffer.alloc(600 * 1024, 120));
    const parts = [
      { topic: "transactions", partition: 0, messages: small.slice(0, 15) },
      { topic: "transactions", partition: 1, messages: [...small.slice(15), large] },
    ];
    try {
      await destination.send(parts, { functionKey: "consume", error: new Error("database said no") });
    } finally {
      await destination.disconnect();
    }

    expect(requests.length).toBeGreaterThan(1);
    expect(requests.every((partitions) => partitions.length === 1 && (partitions[0] ?? -1) >= 0)).toBe(true);
    expect(new Set(requests.flat()).size).toBeGreaterThan(1);

    const read = await readTopic(kafka, topic, (messages) => messages.length >= 31);
    const byKey = new Map(read.map((message) => [message.key?.toString(), message]));
    for (const { partition, messages } of parts) {
      for (const one of messages) {
        const expected = deadLetterMessage({
          topic: "transactions",
          partition,
          offset: one.offset,
          timestamp: one.timestamp,
          key: one.key,
          value: one.value,
          headers: one.headers,
          reason: "function-error",
          detail: "database said no",
          extra: { "dead-letter-function": "consume" },
        });
        const got = byKey.get(one.key?.toString());
        expect(got?.value ?? null).toEqual(expected.value ?? null);
        const headers = Object.fromEntries(Object.entries(got?.headers ?? {}).map(([name, value]) => [name, String(value)]));
        expect(headers).toEqual(expected.headers);
      }
    }
    expect(byKey.get("C-large")?.value).toBeNull();
  });
});
