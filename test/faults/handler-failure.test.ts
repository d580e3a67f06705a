import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { MSKEvent } from "aws-lambda";
import type { Admin, KafkaMessage, Producer } from "kafkajs";
import { type BatchInvoker, KafkaPoller, loadHandler, type PollerDefinition } from "serverless-offline-kafka-trigger";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BatchSummary } from "../../lib/consumer/persist.js";
import { closeDb, getPool } from "../../lib/db/client.js";
import { disconnectProducer } from "../../lib/kafka/producer.js";
import { txlogClient, txlogOutagePolicy } from "../../plugins/offline-kafka/binding.js";
import { committedByPartition, endOffsetTotal, eventually, storedCounts } from "../support/fault-infra.js";
import { recordFaultRow, tally } from "../support/fault-results.js";
import { readAllMessages, testKafka, uniqueName } from "../support/kafka.js";

/**
 * Lambda's error handling, emulated by the local trigger (packages/serverless-offline-kafka-trigger/src/failure-handling.ts), with
 * the real consume handler behind a wrapper that fails the way a record nobody foresaw makes it fail.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const kafka = testKafka();
const admin: Admin = kafka.admin();
const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const topics: string[] = [];
let consumeHandler: BatchInvoker;

beforeAll(async () => {
  await Promise.all([admin.connect(), producer.connect()]);
  consumeHandler = await loadHandler(ROOT, "handlers/consume.handler");
});

afterAll(async () => {
  await admin.deleteTopics({ topics }).catch(() => {});
  await Promise.allSettled([admin.disconnect(), producer.disconnect()]);
  await disconnectProducer();
  await closeDb();
});

/** A source topic and its on-failure destination topic, both the test's own. */
async function newTopics(partitions: number): Promise<{ topic: string; destination: string }> {
  const topic = uniqueName("test.handler-failure");
  const destination = `${topic}.on-failure`;
  topics.push(topic, destination);
  await admin.createTopics({
    waitForLeaders: true,
    topics: [topic, destination].map((name) => ({ topic: name, numPartitions: partitions, replicationFactor: 1 })),
  });
  return { topic, destination };
}

function transactionValue(id: string): string {
  const transaction = { step: 1, type: "PAYMENT", amount: "10.25", nameOrig: "C1", oldbalanceOrg: "100" };
  return JSON.stringify({
    id,
    receivedAt: new Date().toISOString(),
    transaction: { ...transaction, newbalanceOrig: "89.75", nameDest: "M1", oldbalanceDest: "0", newbalanceDest: "0" },
  });
}

/** Produces valid transactions (and `special` values where given) by partition; returns the valid ids. */
async function produce(topic: string, perPartition: number[], special: Record<string, string> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (const [partition, count] of perPartition.entries()) {
    const messages = Array.from({ length: count }, (_, offset) => {
      const value = special[`${partition}@${offset}`];
      if (value) return { partition, key: `C${partition}`, value, headers: { origin: "test" } };
      const id = uuidv7();
      ids.push(id);
      return { partition, key: `C${partition}`, value: transactionValue(id), headers: { origin: "test" } };
    });
    await producer.send({ topic, messages });
  }
  return ids;
}

const valuesOf = (event: MSKEvent) =>
  Object.values(event.records)
    .flat()
    .map((record) => Buffer.from(record.value, "base64").toString());

function definition(topic: string, overrides: Partial<PollerDefinition>): PollerDefinition {
  return {
    functionKey: "consume",
    topic,
    batchSize: 100,
    maximumBatchingWindowMs: 500,
    startingPosition: "TRIM_HORIZON",
    consumerGroupId: uniqueName("test.handler-failure-group"),
    eventSourceArn: "arn:aws:kafka:local:000000000000:cluster/offline-kafka/consume",
    ...overrides,
  };
}

const headerText = (message: KafkaMessage) =>
  Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]));

describe("fault: a handler that fails on one record (Lambda's retries, bisecting, on-failure destination)", () => {
  it("bisects a batch of 20 across partitions down to the poison, dead-letters it after 2 retries, stores and commits the rest", async () => {
    const { topic, destination } = await newTopics(3);
    const ids = await produce(topic, [7, 7, 6], { "1@3": "poison" });
    const invoked: number[] = [];
    const poller = new KafkaPoller({
      ...txlogClient(),
      definition: definition(topic, { maximumRetryAttempts: 2, bisectBatchOnFunctionError: true, onFailureTopic: destination }),
      retry: { initialDelayMs: 50, maxDelayMs: 200 },
      ...txlogOutagePolicy,
      invoke: async (event) => {
        invoked.push(valuesOf(event).length);
        if (valuesOf(event).includes("poison")) throw new Error("cannot process this record");
        return consumeHandler(event);
      },
    });
    await poller.start();
    let after: string[] = [];
    try {
      await eventually(
        "committed past the poison on every partition",
        () => committedByPartition(admin, poller.definition.consumerGroupId, topic),
        (offsets) => offsets[0] === 7 && offsets[1] === 7 && offsets[2] === 6,
      );
      // The partition flows on: a record produced afterwards behind the poison is delivered.
      after = await produce(topic, [0, 1]);
      await eventually(
        "the later record committed",
        () => committedByPartition(admin, poller.definition.consumerGroupId, topic),
        (offsets) => offsets[1] === 8,
      );
    } finally {
      await poller.stop();
    }
    const counts = await storedCounts(getPool(), topic);
    const { stored, lost, duplicated } = tally([...ids, ...after], counts);
    expect({ stored, lost, duplicated }).toEqual({ stored: 20, lost: 0, duplicated: 0 });

    const [failed, ...others] = await readAllMessages(kafka, destination);
    expect(others).toHaveLength(0);
    expect(failed?.key?.toString()).toBe("C1");
    expect(failed?.value?.toString()).toBe("poison");
    expect(headerText(failed as KafkaMessage)).toEqual({
      origin: "test",
      "dead-letter-reason": "function-error",
      "dead-letter-detail": "cannot process this record",
      "dead-letter-function": "consume",
      "source-topic": topic,
      "source-partition": "1",
      "source-offset": "3",
      "source-timestamp": expect.stringMatching(/^\d{13}$/),
    });
    // The poison alone was tried 3 times (the first try and 2 retries) before it went to the destination.
    expect(invoked.filter((count) => count === 1).length).toBeGreaterThanOrEqual(3);
    expect(poller.stats).toMatchObject({ sentOnFailure: 1, discarded: 0 });
    expect(poller.stats.bisections).toBeGreaterThanOrEqual(4);
    recordFaultRow({
      scenario: "handler throws on 1 record of 20 on 3 partitions (bisect, 2 retries)",
      // As in the poison row: valid records accepted; the poison is counted as dead-lettered.
      accepted: ids.length + after.length,
      stored,
      lost,
      duplicated,
      deadLettered: 1,
      redelivered: 0,
      recoverMs: null,
      note: `${invoked.length} invocations holding ${invoked.reduce((a, b) => a + b, 0)} records (${poller.stats.bisections} bisections); the poison alone 3 times, then to the destination with error and source headers; committed past it, a record produced after it stored`,
    });
  });

  it("counts an invocation past the function timeout as failed; the late finish is absorbed", async () => {
    const { topic, destination } = await newTopics(1);
    const slowId = uuidv7();
    const ids = await produce(topic, [10], { "0@5": transactionValue(slowId) });
    let inFlight = 0;
    let duplicates = 0;
    const poller = new KafkaPoller({
      ...txlogClient(),
      definition: definition(topic, { maximumRetryAttempts: 1, bisectBatchOnFunctionError: true, onFailureTopic: destination }),
      functionTimeoutMs: 500,
      retry: { initialDelayMs: 50, maxDelayMs: 200 },
      invoke: async (event) => {
        inFlight += 1;
        try {
          // Any batch holding the slow record takes 1.5 s, three times the function's timeout.
          if (valuesOf(event).some((value) => value.includes(slowId))) await sleep(1_500);
          const summary = (await consumeHandler(event)) as BatchSummary;
          duplicates += summary.duplicates;
          return summary;
        } finally {
          inFlight -= 1;
        }
      },
    });
    await poller.start();
    try {
      await eventually(
        "committed to the end",
        () => committedByPartition(admin, poller.definition.consumerGroupId, topic),
        (offsets) => offsets[0] === 10,
      );
    } finally {
      await poller.stop();
    }
    // The timed-out invocations run on (Lambda would have stopped them); they store nothing twice.
    await eventually(
      "late invocations finished",
      async () => inFlight,
      (n) => n === 0,
    );
    const { stored, lost, duplicated } = tally([...ids, slowId], await storedCounts(getPool(), topic));
    expect({ stored, lost, duplicated }).toEqual({ stored: 10, lost: 0, duplicated: 0 });
    const failed = await readAllMessages(kafka, destination);
    expect(failed.map((message) => headerText(message)["source-offset"])).toEqual(["5"]);
    expect(headerText(failed[0] as KafkaMessage)).toMatchObject({
      "dead-letter-reason": "function-timeout",
      "dead-letter-detail": 'function "consume" took longer than 500 ms',
    });
    expect(poller.stats.timeouts).toBe(poller.stats.failedAttempts);
    recordFaultRow({
      scenario: "handler hangs past its timeout (0.5 s) on 1 record of 10 (bisect, 1 retry)",
      accepted: 10,
      stored,
      lost,
      duplicated,
      deadLettered: failed.length,
      redelivered: duplicates,
      recoverMs: null,
      note: `${poller.stats.timeouts} invocations timed out; the slow record alone twice, then to the destination (reason function-timeout); the late invocations stored it too, absorbed`,
    });
  });

  it("never counts, bisects or dead-letters attempts that failed while the database was down", async () => {
    const { topic, destination } = await newTopics(3);
    const ids = await produce(topic, [4, 4, 4]);
    let databaseUp = false;
    const batchSizes: number[] = [];
    const poller = new KafkaPoller({
      ...txlogClient(),
      // Retries 0 with bisecting: one counted failure would split the batch and the next dead-letter a record.
      definition: definition(topic, { maximumRetryAttempts: 0, bisectBatchOnFunctionError: true, onFailureTopic: destination }),
      retry: { initialDelayMs: 50, maxDelayMs: 200 },
      ...txlogOutagePolicy,
      invoke: async (event) => {
        batchSizes.push(valuesOf(event).length);
        // What pg throws when PostgreSQL refuses connections: a system error, classified as an outage by its code.
        if (!databaseUp) throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
        return consumeHandler(event);
      },
    });
    await poller.start();
    let recoverMs = 0;
    try {
      await eventually(
        "held, retried",
        async () => poller.stats.outageAttempts,
        (n) => n >= 5,
      );
      expect(await committedByPartition(admin, poller.definition.consumerGroupId, topic)).toEqual({});
      const upAt = performance.now();
      databaseUp = true;
      await eventually(
        "everything committed",
        () => committedByPartition(admin, poller.definition.consumerGroupId, topic),
        (offsets) => offsets[0] === 4 && offsets[1] === 4 && offsets[2] === 4,
      );
      recoverMs = performance.now() - upAt;
    } finally {
      await poller.stop();
    }
    const { stored, lost, duplicated } = tally(ids, await storedCounts(getPool(), topic));
    expect({ stored, lost, duplicated }).toEqual({ stored: 12, lost: 0, duplicated: 0 });
    expect(await endOffsetTotal(admin, destination)).toBe(0);
    expect(poller.stats).toMatchObject({ bisections: 0, sentOnFailure: 0, discarded: 0 });
    // Every try held the whole batch: the failures were not held against it.
    expect(new Set(batchSizes)).toEqual(new Set([12]));
    recordFaultRow({
      scenario: "database down under a failing batch (bisect, 0 retries)",
      accepted: 12,
      stored,
      lost,
      duplicated,
      deadLettered: 0,
      redelivered: 0,
      recoverMs,
      note: `${poller.stats.outageAttempts} attempt(s) failed with ECONNREFUSED (an outage by its code): paused, not counted, not bisected`,
    });
  });
});
