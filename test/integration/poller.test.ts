import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { MSKEvent } from "aws-lambda";
import type { Admin, Producer } from "kafkajs";
import { type BatchInvoker, KafkaPoller, loadHandler, type PollerDefinition } from "serverless-offline-kafka-trigger";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDb, getPool } from "../../lib/db/client.js";
import { disconnectProducer } from "../../lib/kafka/producer.js";
import { txlogClient } from "../../plugins/offline-kafka/binding.js";
import { testKafka, uniqueName } from "../support/kafka.js";

const ROOT = resolve(import.meta.dirname, "../..");
const fixture = JSON.parse(readFileSync(resolve(ROOT, "test/fixtures/msk-event.json"), "utf8")) as MSKEvent;
const fixtureRecord = Object.values(fixture.records)[0]?.[0];

const kafka = testKafka();
let admin: Admin;
let producer: Producer;
let consumeHandler: BatchInvoker;

beforeAll(async () => {
  admin = kafka.admin();
  producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
  consumeHandler = await loadHandler(ROOT, "handlers/consume.handler");
});

afterAll(async () => {
  await Promise.allSettled([admin.disconnect(), producer.disconnect()]);
  await disconnectProducer();
  await closeDb();
});

/** A topic of its own with `partitions` partitions. */
async function newTopic(partitions = 3): Promise<string> {
  const topic = uniqueName("test.poller");
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] });
  return topic;
}

function transactionMessage(id = uuidv7()) {
  return {
    id,
    receivedAt: new Date().toISOString(),
    transaction: {
      step: 1,
      type: "PAYMENT",
      amount: "10.25",
      nameOrig: "C1",
      oldbalanceOrg: "100",
      newbalanceOrig: "89.75",
      nameDest: "M1",
      oldbalanceDest: "0",
      newbalanceDest: "0",
    },
  };
}

/** Produces `perPartition` valid messages to each partition; returns their ids. */
async function produceTo(topic: string, partitions: number[], perPartition: number): Promise<string[]> {
  const ids: string[] = [];
  for (const partition of partitions) {
    const messages = Array.from({ length: perPartition }, () => {
      const message = transactionMessage();
      ids.push(message.id);
      return { partition, key: `C${partition}`, value: JSON.stringify(message), headers: { "content-type": "application/json" } };
    });
    await producer.send({ topic, messages });
  }
  return ids;
}

async function storedCount(ids: string[]): Promise<number> {
  const { rows } = await getPool().query("select count(*)::int as n from transactions where id = any($1::uuid[])", [ids]);
  return rows[0].n;
}

/** Committed offsets of the group by partition (-1: nothing committed). */
async function committed(groupId: string, topic: string): Promise<Record<number, number>> {
  const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return Object.fromEntries((result?.partitions ?? []).map(({ partition, offset }) => [partition, Number(offset)]));
}

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(value)}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

function definition(topic: string, overrides: Partial<PollerDefinition> = {}): PollerDefinition {
  return {
    functionKey: "consume",
    topic,
    batchSize: 100,
    maximumBatchingWindowMs: 500,
    startingPosition: "TRIM_HORIZON",
    consumerGroupId: uniqueName("test.poller-group"),
    eventSourceArn: "arn:aws:kafka:local:000000000000:cluster/offline-kafka/consume",
    ...overrides,
  };
}

function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.length ? [shapeOf(value[0])] : [];
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, shapeOf(inner)]));
  return typeof value;
}

describe("KafkaPoller (the local MSK trigger)", () => {
  it("invokes the handler with AWS-shaped events spanning partitions, stores every record and commits", async () => {
    const topic = await newTopic(3);
    const ids = await produceTo(topic, [0, 1, 2], 2);
    const events: MSKEvent[] = [];
    const poller = new KafkaPoller({
      ...txlogClient(),
      definition: definition(topic),
      invoke: async (event) => {
        events.push(structuredClone(event));
        return consumeHandler(event);
      },
    });
    await poller.start();
    try {
      await eventually(
        () => storedCount(ids),
        (n) => n === 6,
      );
      await eventually(
        () => committed(poller.definition.consumerGroupId, topic),
        (offsets) => Object.values(offsets).every((o) => o === 2),
      );
    } finally {
      await poller.stop();
    }

    const event = events[0];
    if (!event) throw new Error("no event");
    expect(shapeOf({ ...event, records: {} })).toEqual(shapeOf({ ...fixture, records: {} }));
    expect(event.bootstrapServers).toBe("127.0.0.1:9092");
    // One fetch holds all three partitions; the batching window gathers them into one event.
    expect(events.some((one) => Object.keys(one.records).length > 1)).toBe(true);
    const all = events.flatMap((one) =>
      Object.entries(one.records).flatMap(([name, records]) => records.map((record) => ({ name, record }))),
    );
    expect(all).toHaveLength(6);
    for (const { name, record } of all) {
      expect(name).toBe(`${topic}-${record.partition}`);
      expect(shapeOf(record)).toEqual(shapeOf(fixtureRecord));
      expect(Buffer.from(record.key, "base64").toString()).toBe(`C${record.partition}`);
      expect(ids).toContain(JSON.parse(Buffer.from(record.value, "base64").toString()).id);
      expect(record.headers).toEqual([{ "content-type": [...Buffer.from("application/json")] }]);
    }
  });

  it("honours batchSize and keeps each partition in offset order", async () => {
    const topic = await newTopic(1);
    const ids = await produceTo(topic, [0], 25);
    const sizes: number[] = [];
    const offsets: number[] = [];
    const poller = new KafkaPoller({
      ...txlogClient(),
      definition: definition(topic, { batchSize: 10, maximumBatchingWindowMs: 100 }),
      invoke: async (event) => {
        const records = Object.values(event.records).flat();
        sizes.push(records.length);
        offsets.push(...records.map((record) => record.offset));
        return consumeHandler(event);
      },
    });
    await poller.start();
    try {
      await eventually(
        () => storedCount(ids),
        (n) => n === 25,
      );
    } finally {
      await poller.stop();
    }
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10);
    expect(offsets).toEqual(Array.from({ length: 25 }, (_, index) => index));
  });

  it("commits nothing while the handler fails, retries the same batch with backoff, then stores it exactly once", async () => {
    const topic = await newTopic(2);
    const ids = await produceTo(topic, [0, 1], 3);
    const group = uniqueName("test.poller-group");
    let failuresLeft = 3;
    const attempts: string[] = [];
    const poller = new KafkaPoller({
      ...txlogClient(),
      definition: definition(topic, { consumerGroupId: group }),
      retry: { initialDelayMs: 300, maxDelayMs: 1_000 },
      invoke: async (event) => {
        attempts.push(JSON.stringify(event.records));
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          throw new Error("simulated handler failure");
        }
        return consumeHandler(event);
      },
    });
    await poller.start();
    try {
      await eventually(
        async () => attempts.length,
        (n) => n >= 2,
      );
      // While failing: no commit in Kafka, nothing in the database.
      expect(Object.values(await committed(group, topic)).every((offset) => offset === -1)).toBe(true);
      expect(await storedCount(ids)).toBe(0);
      await eventually(
        () => storedCount(ids),
        (n) => n === 6,
      );
      await eventually(
        () => committed(group, topic),
        (offsets) => offsets[0] === 3 && offsets[1] === 3,
      );
    } finally {
      await poller.stop();
    }
    // The retries delivered the very same records.
    expect(new Set(attempts.slice(0, 4)).size).toBe(1);
    expect(poller.stats.failedAttempts).toBe(3);
    const { rows } = await getPool().query(
      "select count(*)::int as n, count(distinct id)::int as d from transactions where id = any($1::uuid[])",
      [ids],
    );
    expect(rows[0]).toEqual({ n: 6, d: 6 });
  });

  it("stop() finishes the batch in flight, commits it and leaves the group", async () => {
    const topic = await newTopic(1);
    const ids = await produceTo(topic, [0], 5);
    const group = uniqueName("test.poller-group");
    let started!: () => void;
    const invoked = new Promise<void>((done) => {
      started = done;
    });
    const poller = new KafkaPoller({
      ...txlogClient(),
      definition: definition(topic, { consumerGroupId: group, maximumBatchingWindowMs: 0 }),
      invoke: async (event) => {
        started();
        await new Promise((done) => setTimeout(done, 1_500));
        return consumeHandler(event);
      },
    });
    await poller.start();
    await invoked;
    await poller.stop();
    expect(await storedCount(ids)).toBe(5);
    expect(await committed(group, topic)).toEqual({ 0: 5 });
    const description = await admin.describeGroups([group]);
    expect(description.groups[0]?.members).toEqual([]);
  });
});

describe("npm run worker", () => {
  it("consumes like the plugin and exits 0 after committing on SIGTERM", async () => {
    const topic = await newTopic(3);
    const group = uniqueName("test.worker-group");
    const ids = await produceTo(topic, [0, 1, 2], 4);
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "scripts/worker.ts", "--topic", topic, "--group", group, "--window", "0.2"],
      {
        cwd: ROOT,
        env: { ...process.env, LOG_LEVEL: "info" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    try {
      await eventually(
        () => storedCount(ids),
        (n) => n === 12,
        60_000,
      );
    } finally {
      // The worker itself (no npx/npm wrapper in between, which would exit on the signal without waiting).
      child.kill("SIGTERM");
    }
    expect(await exited, output).toBe(0);
    expect(output).toMatch(/"msg":"worker stopped"/);
    expect(await committed(group, topic)).toEqual({ 0: 4, 1: 4, 2: 4 });
  }, 90_000);
});
