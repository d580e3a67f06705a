import { setTimeout as sleep } from "node:timers/promises";
import type { MSKEvent } from "aws-lambda";
import type { KafkaMessage, Message } from "kafkajs";
import { describe, expect, it } from "vitest";
import {
  createJsonLogger,
  type FailureRecordDocument,
  type KafkaEventDefinition,
  KafkaPoller,
  type PollerOptions,
  parseKafkaEventDefinition,
  startOfflineKafka,
  startPollers,
  type TriggerMetric,
} from "../../src/index.js";
import { BROKERS, committedByPartition, eventually, readAllMessages, uniqueName, useKafkaFixture } from "../support.js";

/**
 * The event source mapping's options as serverless.yml gives them (AWS's names), parsed by the trigger's own
 * parser and honoured against the real broker: one test per option. The function only records what it got.
 */
const ROOT = new URL("../..", import.meta.url).pathname;
const { kafka, admin, producer, newTopic } = useKafkaFixture("test.trigger-options");

/** An msk (or kafka) event of serverless.yml, through the trigger's parser. */
function fromServerlessYml(options: Record<string, unknown>, type: "msk" | "kafka" = "msk"): KafkaEventDefinition {
  const event = { [type]: { maximumBatchingWindow: 0, consumerGroupId: uniqueName("test.trigger-options-group"), ...options } };
  const definition = parseKafkaEventDefinition("consume", "handlers/consume.handler", event, "unused");
  if (!definition) throw new Error("not a Kafka event");
  return definition;
}

const text = (record: MSKEvent["records"][string][number]) => Buffer.from(record.value, "base64").toString();
const recordsOf = (event: MSKEvent) => Object.values(event.records).flat();

/** Starts a poller whose function records each event; `answer` decides what it returns or throws. */
async function run(
  definition: KafkaEventDefinition,
  answer: (event: MSKEvent, call: number) => unknown = () => ({}),
  hooks: Partial<PollerOptions> = {},
) {
  const events: MSKEvent[] = [];
  const poller = new KafkaPoller({
    ...hooks,
    kafka,
    bootstrapServers: BROKERS,
    definition,
    retry: { initialDelayMs: 20, maxDelayMs: 50 },
    invoke: async (event) => {
      events.push(structuredClone(event));
      return answer(event, events.length);
    },
  });
  await poller.start();
  await poller.whenJoined();
  return { poller, events, values: () => events.flatMap((event) => recordsOf(event).map(text)) };
}

async function committedTo(definition: KafkaEventDefinition, expected: Record<number, number>): Promise<void> {
  await eventually(
    `committed ${JSON.stringify(expected)}`,
    () => committedByPartition(admin, definition.consumerGroupId, definition.topic),
    (offsets) => Object.entries(expected).every(([partition, offset]) => offsets[Number(partition)] === offset),
    30_000,
  );
}

async function send(topic: string, values: (string | Message)[], partition = 0): Promise<void> {
  await producer.send({
    topic,
    messages: values.map((value) => (typeof value === "string" ? { partition, value } : { partition, ...value })),
  });
}

/** An on-failure destination message: AWS's invocation record, the failed record under `payload`. */
const envelope = (message: KafkaMessage) => JSON.parse(String(message.value)) as FailureRecordDocument;

describe("event source mapping options, honoured by the local trigger", () => {
  it("filterPatterns: delivers only matching records; the others are committed, never delivered", async () => {
    const topic = await newTopic();
    const definition = fromServerlessYml({
      topic,
      filterPatterns: [{ value: { type: ["PAYMENT"], amount: [{ numeric: [">=", 100] }] } }, { value: [{ prefix: "KEEP" }] }],
    });
    await send(topic, [
      JSON.stringify({ type: "PAYMENT", amount: 150 }),
      JSON.stringify({ type: "TRANSFER", amount: 150 }),
      JSON.stringify({ type: "PAYMENT", amount: 5 }),
      "KEEP this plain text",
      "drop this plain text",
      JSON.stringify({ type: "CASH_OUT" }),
    ]);
    const { poller, values } = await run(definition);
    try {
      await committedTo(definition, { 0: 6 });
    } finally {
      await poller.stop();
    }
    expect(values()).toEqual([JSON.stringify({ type: "PAYMENT", amount: 150 }), "KEEP this plain text"]);
    expect(poller.stats.filteredOut).toBe(4);
  });

  it("filterPatterns: a fetch with no matching record is committed without an invocation", async () => {
    const topic = await newTopic();
    const definition = fromServerlessYml({ topic, filterPatterns: [{ value: { type: ["PAYMENT"] } }] });
    await send(topic, [JSON.stringify({ type: "TRANSFER" }), "not json"]);
    const { poller, events } = await run(definition);
    try {
      await committedTo(definition, { 0: 2 });
    } finally {
      await poller.stop();
    }
    expect(events).toHaveLength(0);
  });

  it("startingPosition TRIM_HORIZON reads what was there before; LATEST only what comes after the start", async () => {
    const topic = await newTopic();
    await send(topic, ["before-1", "before-2"]);
    const trim = await run(fromServerlessYml({ topic, startingPosition: "TRIM_HORIZON" }));
    const latest = await run(fromServerlessYml({ topic, startingPosition: "LATEST" }));
    try {
      await eventually(
        "TRIM_HORIZON read the old records",
        async () => trim.values(),
        (v) => v.length === 2,
      );
      await sleep(500);
      await send(topic, ["after-1"]);
      await eventually(
        "LATEST read the new record",
        async () => latest.values(),
        (v) => v.length === 1,
      );
      await eventually(
        "TRIM_HORIZON read it too",
        async () => trim.values(),
        (v) => v.length === 3,
      );
    } finally {
      await Promise.all([trim.poller.stop(), latest.poller.stop()]);
    }
    expect(trim.values()).toEqual(["before-1", "before-2", "after-1"]);
    expect(latest.values()).toEqual(["after-1"]);
  });

  it("startingPosition AT_TIMESTAMP starts each partition at the first record at or after startingPositionTimestamp", async () => {
    const topic = await newTopic(2);
    const base = Date.now() - 60_000;
    for (const partition of [0, 1]) {
      await send(
        topic,
        [0, 10, 20, 30].map((seconds) => ({ value: `p${partition}-t${seconds}`, timestamp: String(base + seconds * 1000) })),
        partition,
      );
    }
    const definition = fromServerlessYml({
      topic,
      startingPosition: "AT_TIMESTAMP",
      startingPositionTimestamp: (base + 15_000) / 1000,
    });
    const { poller, values } = await run(definition);
    try {
      await committedTo(definition, { 0: 4, 1: 4 });
    } finally {
      await poller.stop();
    }
    expect(values().sort()).toEqual(["p0-t20", "p0-t30", "p1-t20", "p1-t30"]);
  });

  it("batchSize caps each event; maximumBatchingWindow holds a small batch until the window ends", async () => {
    const topic = await newTopic();
    await send(
      topic,
      Array.from({ length: 10 }, (_, i) => `r${i}`),
    );
    const small = await run(fromServerlessYml({ topic, batchSize: 4 }));
    try {
      await committedTo(small.poller.definition as KafkaEventDefinition, { 0: 10 });
    } finally {
      await small.poller.stop();
    }
    expect(small.events.map((event) => recordsOf(event).length)).toEqual([4, 4, 2]);

    const quiet = await newTopic();
    const windowed = await run(fromServerlessYml({ topic: quiet, batchSize: 100, maximumBatchingWindow: 1.5 }));
    const invokedAt: number[] = [];
    try {
      const sentAt = performance.now();
      await send(quiet, ["w1"]);
      await sleep(200);
      await send(quiet, ["w2"]);
      await eventually(
        "the windowed event",
        async () => windowed.events.length,
        (n) => n >= 1,
      );
      invokedAt.push(performance.now() - sentAt);
    } finally {
      await windowed.poller.stop();
    }
    // One event holding both records, invoked only once the window of the first had passed.
    expect(windowed.values()).toEqual(["w1", "w2"]);
    expect(invokedAt[0]).toBeGreaterThanOrEqual(1_300);
  });

  it("maximumRetryAttempts bounds the retries; without a destination the records are discarded and committed past", async () => {
    const topic = await newTopic();
    await send(topic, ["fails"]);
    const definition = fromServerlessYml({ topic, maximumRetryAttempts: 2 });
    const { poller, events } = await run(definition, () => {
      throw new Error("always fails");
    });
    try {
      await committedTo(definition, { 0: 1 });
    } finally {
      await poller.stop();
    }
    expect(events).toHaveLength(3);
    expect(poller.stats).toMatchObject({ failedAttempts: 3, discarded: 1 });
  });

  it("bisectBatchOnFunctionError and destinationConfig: the failing record alone goes to the kafka:// destination", async () => {
    const topic = await newTopic();
    const destination = await newTopic(1, ".on-failure");
    await send(topic, ["ok-1", "bad", "ok-2", "ok-3"]);
    const definition = fromServerlessYml({
      topic,
      maximumRetryAttempts: 0,
      bisectBatchOnFunctionError: true,
      destinationConfig: { onFailure: { destination: `kafka://${destination}` } },
    });
    const delivered: string[] = [];
    const { poller } = await run(definition, (event) => {
      const values = recordsOf(event).map(text);
      if (values.includes("bad")) throw new Error("cannot take it");
      delivered.push(...values);
      return {};
    });
    try {
      await committedTo(definition, { 0: 4 });
    } finally {
      await poller.stop();
    }
    expect(delivered.sort()).toEqual(["ok-1", "ok-2", "ok-3"]);
    const failed = (await readAllMessages(kafka, destination)).map(envelope);
    expect(failed.map(({ payload }) => payload.value && Buffer.from(payload.value, "base64").toString())).toEqual(["bad"]);
    expect(failed[0]).toMatchObject({
      requestContext: { condition: "RetryAttemptsExhausted", functionArn: expect.stringMatching(/:function:consume$/) },
      responseContext: { functionError: "Unhandled" },
      KafkaBatchInfo: { batchSize: 1, recordsInfo: { [`${topic}-0`]: { firstRecordOffset: "1", lastRecordOffset: "1" } } },
      payload: { topic, partition: 0, offset: 1 },
    });
  });

  it("maximumRecordAgeInSeconds: an older record goes to the on-failure destination instead of the function", async () => {
    const topic = await newTopic();
    const destination = await newTopic(1, ".on-failure");
    await send(topic, [
      { value: "too-old", timestamp: String(Date.now() - 120_000) },
      { value: "fresh", timestamp: String(Date.now()) },
    ]);
    const definition = fromServerlessYml({
      topic,
      maximumRecordAgeInSeconds: 60,
      onFailureDestination: `kafka://${destination}`,
    });
    const { poller, values } = await run(definition);
    try {
      await committedTo(definition, { 0: 2 });
    } finally {
      await poller.stop();
    }
    expect(values()).toEqual(["fresh"]);
    const failed = (await readAllMessages(kafka, destination)).map(envelope);
    expect(failed.map(({ payload }) => payload.value && Buffer.from(payload.value, "base64").toString())).toEqual(["too-old"]);
    expect(failed[0]).toMatchObject({
      requestContext: { condition: "RecordAgeExceeded", approximateInvokeCount: 0 },
      payload: { topic, partition: 0, offset: 0 },
    });
    expect(poller.stats.expired).toBe(1);
  });

  it("functionResponseTypes ReportBatchItemFailures: only the records the function names are retried", async () => {
    const topic = await newTopic(2);
    await send(topic, ["a0", "a1", "a2"], 0);
    await send(topic, ["b0", "b1"], 1);
    const definition = fromServerlessYml({
      topic,
      batchSize: 10,
      maximumBatchingWindow: 0.5,
      functionResponseTypes: ["ReportBatchItemFailures"],
    });
    const failOnce = new Set(["a1", "b1"]);
    const { poller, events } = await run(definition, (event) => ({
      batchItemFailures: recordsOf(event)
        .filter((record) => failOnce.delete(text(record)))
        .map((record) => ({ itemIdentifier: { partition: `${record.topic}-${record.partition}`, offset: record.offset } })),
    }));
    try {
      await committedTo(definition, { 0: 3, 1: 2 });
    } finally {
      await poller.stop();
    }
    const invocations = events.map((event) => recordsOf(event).map(text).sort());
    expect(invocations.flat().sort()).toEqual(["a0", "a1", "a1", "a2", "b0", "b1", "b1"]);
    expect(invocations.at(-1)).toEqual(["a1", "b1"]);
    expect(poller.stats.partialFailures).toBeGreaterThanOrEqual(1);
  });

  it("functionResponseTypes ReportBatchItemFailures: a malformed identifier retries the whole batch", async () => {
    const topic = await newTopic();
    await send(topic, ["x0", "x1", "x2"]);
    const definition = fromServerlessYml({
      topic,
      batchSize: 10,
      maximumBatchingWindow: 0.5,
      functionResponseTypes: ["ReportBatchItemFailures"],
    });
    const { poller, events } = await run(definition, (_event, call) =>
      call === 1
        ? { batchItemFailures: [{ itemIdentifier: { partition: `${topic}-0`, offset: "1" } }] }
        : { batchItemFailures: [] },
    );
    try {
      await committedTo(definition, { 0: 3 });
    } finally {
      await poller.stop();
    }
    expect(events.map((event) => recordsOf(event).map(text))).toEqual([
      ["x0", "x1", "x2"],
      ["x0", "x1", "x2"],
    ]);
  });

  it("consumerGroupId: the offsets are committed under that group", async () => {
    const topic = await newTopic();
    const group = uniqueName("test.named-group");
    await send(topic, ["g1", "g2"]);
    const definition = fromServerlessYml({ topic, consumerGroupId: group });
    const { poller } = await run(definition);
    try {
      await eventually(
        "committed under the named group",
        () => committedByPartition(admin, group, topic),
        (o) => o[0] === 2,
      );
    } finally {
      await poller.stop();
    }
  });

  it("enabled: false starts no poller; nothing is read or committed", async () => {
    const topic = await newTopic();
    await send(topic, ["unread"]);
    const definition = fromServerlessYml({ topic, enabled: false });
    const running = await startPollers({ servicePath: ROOT, definitions: [definition], kafka, bootstrapServers: BROKERS });
    try {
      expect(running.pollers).toHaveLength(0);
      await sleep(500);
      expect(await committedByPartition(admin, definition.consumerGroupId, topic)).toEqual({});
    } finally {
      await running.stop();
    }
  });

  it('custom.offlineKafka.enabled "false" (a string, as osls resolves an env variable) polls nothing; "true" polls', async () => {
    const topic = await newTopic();
    await send(topic, ["unread", "read"]);
    const group = uniqueName("test.trigger-options-group");
    const service = (enabled: string) => ({
      service: "example",
      custom: { offlineKafka: { enabled } },
      functions: {
        consume: {
          handler: "test/fixtures/no-such-module.handler",
          events: [{ msk: { arn: "arn:aws:kafka:x", topic, consumerGroupId: group, maximumBatchingWindow: 0 } }],
        },
      },
    });
    const lines: string[] = [];
    const logger = createJsonLogger("INFO", {}, (line) => lines.push(line));
    // Disabled: no handler is even imported (this one does not exist), no group joins, nothing is committed.
    expect(await startOfflineKafka(service("false"), ROOT, { kafka, bootstrapServers: BROKERS, logger })).toBeUndefined();
    expect(lines.map((line) => JSON.parse(line))).toContainEqual(
      expect.objectContaining({ message: "custom.offlineKafka.enabled is false; not polling", functions: ["consume"] }),
    );
    await sleep(500);
    expect(await committedByPartition(admin, group, topic)).toEqual({});
    const delivered: string[] = [];
    const running = await startOfflineKafka(service("true"), ROOT, {
      kafka,
      bootstrapServers: BROKERS,
      logger,
      loadHandler: async () => async (event) => {
        delivered.push(...recordsOf(event as MSKEvent).map(text));
      },
    });
    try {
      expect(running?.pollers).toHaveLength(1);
      await eventually(
        "committed after delivery",
        () => committedByPartition(admin, group, topic),
        (offsets) => offsets[0] === 2,
      );
      expect(delivered).toEqual(["unread", "read"]);
    } finally {
      await running?.stop();
    }
  });

  it("`kafka` events deliver the SelfManagedKafka event shape (no ARN); `msk` events the MSK one", async () => {
    const topic = await newTopic();
    await send(topic, [{ key: "k", value: "v", headers: { h: "hi" } }]);
    const selfManaged = await run(
      fromServerlessYml(
        { topic, bootstrapServers: ["broker.example:9092"], accessConfigurations: { saslScram512Auth: ["arn:x"] } },
        "kafka",
      ),
    );
    const msk = await run(fromServerlessYml({ topic, arn: "arn:aws:kafka:eu-west-1:0:cluster/c/1" }));
    try {
      await eventually(
        "both delivered",
        async () => selfManaged.events.length + msk.events.length,
        (n) => n === 2,
      );
    } finally {
      await Promise.all([selfManaged.poller.stop(), msk.poller.stop()]);
    }
    const [event] = selfManaged.events as [MSKEvent];
    expect(Object.keys(event).sort()).toEqual(["bootstrapServers", "eventSource", "records"]);
    expect(event.eventSource).toBe("SelfManagedKafka");
    expect(event.bootstrapServers).toBe("127.0.0.1:9092");
    expect(event.records[`${topic}-0`]?.[0]).toMatchObject({
      topic,
      partition: 0,
      offset: 0,
      key: "aw==",
      value: "dg==",
      headers: [{ h: [104, 105] }],
    });
    expect(msk.events[0]).toMatchObject({ eventSource: "aws:kafka", eventSourceArn: "arn:aws:kafka:eu-west-1:0:cluster/c/1" });
  });

  it("a tombstone (a record without a value) is delivered with value: null, as AWS delivers it", async () => {
    const topic = await newTopic();
    await send(topic, [{ key: "deleted", value: null }, "kept"]);
    const definition = fromServerlessYml({ topic });
    const { poller, events } = await run(definition);
    try {
      await committedTo(definition, { 0: 2 });
    } finally {
      await poller.stop();
    }
    const records = events.flatMap(recordsOf) as unknown as { key?: string; value: string | null }[];
    expect(records.map(({ key, value }) => [key, value])).toEqual([
      [Buffer.from("deleted").toString("base64"), null],
      [undefined, Buffer.from("kept").toString("base64")],
    ]);
  });

  it("metrics under AWS's names reach the onMetric hook; metricsConfig without EventCount leaves OffsetLag only", async () => {
    const topic = await newTopic();
    await send(topic, [JSON.stringify({ keep: true }), JSON.stringify({ keep: false }), JSON.stringify({ keep: true })]);
    const seen: TriggerMetric[] = [];
    const all = fromServerlessYml({ topic, filterPatterns: [{ value: { keep: [true] } }] });
    const first = await run(all, () => ({}), { onMetric: (metric) => seen.push(metric) });
    try {
      await committedTo(all, { 0: 3 });
    } finally {
      await first.poller.stop();
    }
    const total = (name: string) => seen.filter((m) => m.name === name).reduce((sum, m) => sum + m.value, 0);
    expect(total("PolledEventCount")).toBe(3);
    expect(total("FilteredOutEventCount")).toBe(1);
    expect(total("InvokedEventCount")).toBe(2);
    expect(seen.filter((m) => m.name === "OffsetLag").at(-1)).toMatchObject({
      value: 0,
      dimensions: { functionName: "consume", topic, consumerGroupId: all.consumerGroupId, partition: 0 },
    });

    const narrowed: TriggerMetric[] = [];
    const errorsOnly = fromServerlessYml({ topic, metricsConfig: { metrics: ["ErrorCount"] } });
    const second = await run(errorsOnly, () => ({}), { onMetric: (metric) => narrowed.push(metric) });
    try {
      await committedTo(errorsOnly, { 0: 3 });
    } finally {
      await second.poller.stop();
    }
    expect(new Set(narrowed.map((m) => m.name))).toEqual(new Set(["OffsetLag"]));
  });

  it("loggingConfig systemLogLevel WARN: the poller's INFO logs are not written", async () => {
    const topic = await newTopic();
    const lines: string[] = [];
    const logger = createJsonLogger("DEBUG", {}, (line) => lines.push(line));
    const quiet = await run(fromServerlessYml({ topic, loggingConfig: { systemLogLevel: "WARN" } }), () => ({}), { logger });
    await quiet.poller.stop();
    const loud = await run(fromServerlessYml({ topic, loggingConfig: { systemLogLevel: "INFO" } }), () => ({}), { logger });
    await loud.poller.stop();
    const messages = lines.map((line) => JSON.parse(line) as { level: string; message: string; groupId: string });
    expect(messages.filter((entry) => entry.message === "polling")).toHaveLength(1);
    expect(messages.some((entry) => entry.level === "INFO" && entry.groupId === quiet.poller.definition.consumerGroupId)).toBe(
      false,
    );
  });

  it("an option the trigger does not know fails the start, naming it, before anything polls", async () => {
    const service = {
      service: "txlog",
      functions: {
        consume: {
          handler: "handlers/consume.handler",
          events: [{ msk: { arn: "arn:aws:kafka:x", topic: "t", batchSize: 10, tumblingWindowInSeconds: 30 } }],
        },
      },
    };
    await expect(startOfflineKafka(service, ROOT, { kafka })).rejects.toThrow(
      /function "consume", msk event: unknown or unsupported option "tumblingWindowInSeconds"/,
    );
  });
});
