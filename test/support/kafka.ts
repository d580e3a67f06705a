import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";

/** Test-side Kafka access, independent of the app's client module, for asserting what is in the broker. */
export function testKafka(brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",")): Kafka {
  return new Kafka({ clientId: "txlog-tests", brokers, logLevel: logLevel.NOTHING, retry: { retries: 3 } });
}

export function uniqueName(prefix: string): string {
  return `${prefix}.${randomUUID().slice(0, 8)}`;
}
