import { describe, expect, it } from "vitest";
import {
  collectKafkaEventDefinitions,
  definitionFromOptions,
  KafkaEventDefinitionError,
  parseKafkaEventDefinition,
} from "../../../plugins/offline-kafka/event-definition.js";
import { splitHandler } from "../../../plugins/offline-kafka/handler-loader.js";

const ARN = "arn:aws:kafka:eu-west-1:000000000000:cluster/txlog/abc-1";

describe("parseKafkaEventDefinition", () => {
  it("reads every knob of an msk event", () => {
    const definition = parseKafkaEventDefinition(
      "consume",
      "handlers/consume.handler",
      {
        msk: {
          arn: ARN,
          topic: "transactions",
          batchSize: 500,
          maximumBatchingWindow: 1,
          startingPosition: "LATEST",
          enabled: false,
          consumerGroupId: "txlog-consume",
        },
      },
      "default-group",
    );
    expect(definition).toEqual({
      functionKey: "consume",
      handler: "handlers/consume.handler",
      eventType: "msk",
      topic: "transactions",
      batchSize: 500,
      maximumBatchingWindowMs: 1000,
      startingPosition: "LATEST",
      enabled: false,
      consumerGroupId: "txlog-consume",
      eventSourceArn: ARN,
      maximumRetryAttempts: -1,
      bisectBatchOnFunctionError: false,
      onFailureTopic: undefined,
    });
  });

  it("applies Lambda's defaults: batch 100, window 0.5 s, TRIM_HORIZON, enabled, the default group, retry forever", () => {
    const definition = parseKafkaEventDefinition(
      "fn",
      "h.handler",
      { kafka: { topic: "t", bootstrapServers: ["x:9092"] } },
      "svc-fn",
    );
    expect(definition).toMatchObject({
      eventType: "kafka",
      batchSize: 100,
      maximumBatchingWindowMs: 500,
      startingPosition: "TRIM_HORIZON",
      enabled: true,
      consumerGroupId: "svc-fn",
      maximumRetryAttempts: -1,
      bisectBatchOnFunctionError: false,
      onFailureTopic: undefined,
    });
    expect(definition?.eventSourceArn).toMatch(/^arn:aws:kafka:local:/);
  });

  it("accepts numbers given as strings (CLI flags, env-resolved values)", () => {
    const definition = parseKafkaEventDefinition(
      "fn",
      "h.handler",
      { msk: { topic: "t", batchSize: "20", maximumBatchingWindow: "0" } },
      "g",
    );
    expect(definition).toMatchObject({ batchSize: 20, maximumBatchingWindowMs: 0 });
  });

  it("reads Lambda's error handling: retries, bisecting, a kafka:// on-failure destination (AWS's or osls's spelling)", () => {
    const aws = parseKafkaEventDefinition(
      "fn",
      "h.handler",
      {
        msk: {
          topic: "t",
          maximumRetryAttempts: 10,
          bisectBatchOnFunctionError: true,
          destinationConfig: { onFailure: { destination: "kafka://t.failed" } },
        },
      },
      "g",
    );
    expect(aws).toMatchObject({ maximumRetryAttempts: 10, bisectBatchOnFunctionError: true, onFailureTopic: "t.failed" });
    const osls = parseKafkaEventDefinition(
      "fn",
      "h.handler",
      {
        kafka: {
          topic: "t",
          maximumRetryAttempts: "0",
          bisectBatchOnFunctionError: "false",
          onFailureDestination: "kafka://dlt",
        },
      },
      "g",
    );
    expect(osls).toMatchObject({ maximumRetryAttempts: 0, bisectBatchOnFunctionError: false, onFailureTopic: "dlt" });
  });

  it("takes error-handling settings from custom.offlineKafka where the event gives none; the event's own win", () => {
    const custom = {
      maximumRetryAttempts: 10,
      bisectBatchOnFunctionError: true,
      destinationConfig: { onFailure: { destination: "kafka://from-custom" } },
    };
    expect(parseKafkaEventDefinition("fn", "h.handler", { msk: { topic: "t" } }, "g", custom)).toMatchObject({
      maximumRetryAttempts: 10,
      bisectBatchOnFunctionError: true,
      onFailureTopic: "from-custom",
    });
    const own = { msk: { topic: "t", maximumRetryAttempts: 2, onFailureDestination: "kafka://from-event" } };
    expect(parseKafkaEventDefinition("fn", "h.handler", own, "g", custom)).toMatchObject({
      maximumRetryAttempts: 2,
      bisectBatchOnFunctionError: true,
      onFailureTopic: "from-event",
    });
  });

  it("ignores other event types", () => {
    expect(parseKafkaEventDefinition("fn", "h.handler", { http: { path: "/x", method: "get" } }, "g")).toBeUndefined();
    expect(parseKafkaEventDefinition("fn", "h.handler", "not an object", "g")).toBeUndefined();
  });

  it.each([
    [{ msk: { batchSize: 10 } }, /topic is required/],
    [{ msk: { topic: "t", batchSize: 0 } }, /batchSize must be a number from 1 to 10000/],
    [{ msk: { topic: "t", batchSize: 10_001 } }, /batchSize/],
    [{ msk: { topic: "t", batchSize: 1.5 } }, /batchSize must be an integer/],
    [{ msk: { topic: "t", maximumBatchingWindow: 301 } }, /maximumBatchingWindow/],
    [{ msk: { topic: "t", startingPosition: "AT_TIMESTAMP" } }, /AT_TIMESTAMP is not supported locally/],
    [{ msk: { topic: "t", startingPosition: "EARLIEST" } }, /TRIM_HORIZON or LATEST/],
    [{ msk: { topic: "t", enabled: "yes" } }, /enabled must be a boolean/],
    [{ msk: "transactions" }, /expected an object/],
    [{ msk: { topic: "t", maximumRetryAttempts: -2 } }, /maximumRetryAttempts must be a number from -1 to 10000/],
    [{ msk: { topic: "t", maximumRetryAttempts: 10_001 } }, /maximumRetryAttempts/],
    [{ msk: { topic: "t", maximumRetryAttempts: 1.5 } }, /maximumRetryAttempts must be an integer/],
    [{ msk: { topic: "t", bisectBatchOnFunctionError: "yes" } }, /bisectBatchOnFunctionError must be a boolean/],
    [
      { msk: { topic: "t", destinationConfig: { onFailure: { destination: "arn:aws:sqs:eu-west-1:1:q" } } } },
      /only a kafka:\/\/<topic>/,
    ],
    [{ msk: { topic: "t", destinationConfig: "kafka://x" } }, /destinationConfig must be/],
    [{ msk: { topic: "t", onFailureDestination: "kafka://" } }, /names no topic/],
    [{ msk: { topic: "t", onFailureDestination: "kafka://t" } }, /must not be the source topic/],
    [
      { msk: { topic: "t", onFailureDestination: "kafka://a", destinationConfig: { onFailure: { destination: "kafka://b" } } } },
      /give the destination once/,
    ],
  ])("rejects %j with a clear error", (event, message) => {
    expect(() => parseKafkaEventDefinition("fn", "h.handler", event, "g")).toThrow(KafkaEventDefinitionError);
    expect(() => parseKafkaEventDefinition("fn", "h.handler", event, "g")).toThrow(message);
  });
});

describe("collectKafkaEventDefinitions", () => {
  it("finds the msk and kafka events of every function and names default groups per function", () => {
    const definitions = collectKafkaEventDefinitions("txlog", {
      api: { handler: "handlers/api.handler", events: [{ http: { path: "/", method: "get" } }] },
      consume: { handler: "handlers/consume.handler", events: [{ msk: { arn: ARN, topic: "a" } }, { kafka: { topic: "b" } }] },
      audit: { handler: "handlers/audit.handler", events: [{ msk: { arn: ARN, topic: "a", consumerGroupId: "audit" } }] },
      noEvents: { handler: "handlers/x.handler" },
    });
    expect(definitions.map(({ functionKey, topic, consumerGroupId }) => [functionKey, topic, consumerGroupId])).toEqual([
      ["consume", "a", "txlog-consume"],
      ["consume", "b", "txlog-consume-1"],
      ["audit", "a", "audit"],
    ]);
  });

  it("applies custom.offlineKafka per function and rejects settings it does not know or functions without a Kafka event", () => {
    const functions = {
      api: { handler: "handlers/api.handler", events: [{ http: { path: "/", method: "get" } }] },
      consume: { handler: "handlers/consume.handler", events: [{ msk: { arn: ARN, topic: "a" } }] },
    };
    const [consume] = collectKafkaEventDefinitions("txlog", functions, {
      consume: { maximumRetryAttempts: 3, destinationConfig: { onFailure: { destination: "kafka://a.dlt" } } },
    });
    expect(consume).toMatchObject({ functionKey: "consume", maximumRetryAttempts: 3, onFailureTopic: "a.dlt" });
    expect(() => collectKafkaEventDefinitions("txlog", functions, { consume: { batchSize: 5 } })).toThrow(
      /custom.offlineKafka.consume: unknown batchSize/,
    );
    expect(() => collectKafkaEventDefinitions("txlog", functions, { api: { maximumRetryAttempts: 1 } })).toThrow(
      /custom.offlineKafka.api: no such function with an msk or kafka event/,
    );
  });

  it("returns nothing for a service without functions", () => {
    expect(collectKafkaEventDefinitions("svc", undefined)).toEqual([]);
  });
});

describe("definitionFromOptions (the standalone worker's flags)", () => {
  const flags = { functionKey: "consume", handler: "handlers/consume.handler", topic: "transactions", consumerGroupId: "g" };

  it("builds the msk definition the worker polls, flags given as parseArgs strings", () => {
    const definition = definitionFromOptions({
      ...flags,
      batchSize: "500",
      maximumBatchingWindow: "0",
      startingPosition: "latest",
    });
    expect(definition).toEqual({
      functionKey: "consume",
      handler: "handlers/consume.handler",
      eventType: "msk",
      topic: "transactions",
      batchSize: 500,
      maximumBatchingWindowMs: 0,
      startingPosition: "LATEST",
      enabled: true,
      consumerGroupId: "g",
      eventSourceArn: "arn:aws:kafka:local:000000000000:cluster/offline-kafka/consume",
      maximumRetryAttempts: -1,
      bisectBatchOnFunctionError: false,
      onFailureTopic: undefined,
    });
  });

  it("reads the error-handling flags; --on-failure none means no destination", () => {
    const definition = definitionFromOptions({
      ...flags,
      maximumRetryAttempts: "10",
      bisectBatchOnFunctionError: "true",
      onFailureDestination: "kafka://transactions.dead-letter",
    });
    expect(definition).toMatchObject({
      maximumRetryAttempts: 10,
      bisectBatchOnFunctionError: true,
      onFailureTopic: "transactions.dead-letter",
    });
    expect(definitionFromOptions({ ...flags, onFailureDestination: "none" }).onFailureTopic).toBeUndefined();
  });

  it("applies the same defaults as a serverless.yml event", () => {
    expect(definitionFromOptions(flags)).toMatchObject({
      batchSize: 100,
      maximumBatchingWindowMs: 500,
      startingPosition: "TRIM_HORIZON",
    });
    expect(definitionFromOptions({ ...flags, startingPosition: "trim-horizon" }).startingPosition).toBe("TRIM_HORIZON");
  });

  it.each([
    [{ batchSize: "0" }, /batchSize must be a number from 1 to 10000/],
    [{ maximumBatchingWindow: "301" }, /maximumBatchingWindow/],
    [{ startingPosition: "at-timestamp" }, /AT_TIMESTAMP is not supported locally/],
    [{ consumerGroupId: "" }, /consumerGroupId must be a non-empty string/],
    [{ maximumRetryAttempts: "many" }, /maximumRetryAttempts must be a number from -1 to 10000/],
    [{ bisectBatchOnFunctionError: "1" }, /bisectBatchOnFunctionError must be a boolean/],
    [{ onFailureDestination: "transactions.dead-letter" }, /only a kafka:\/\/<topic>/],
  ])("rejects %j with the parser's errors", (override, message) => {
    expect(() => definitionFromOptions({ ...flags, ...override })).toThrow(KafkaEventDefinitionError);
    expect(() => definitionFromOptions({ ...flags, ...override })).toThrow(message);
  });
});

describe("splitHandler", () => {
  it("splits at the last dot, as Lambda does", () => {
    expect(splitHandler("handlers/consume.handler")).toEqual({ modulePath: "handlers/consume", exportName: "handler" });
    expect(splitHandler("src/v1.2/fn.main")).toEqual({ modulePath: "src/v1.2/fn", exportName: "main" });
  });

  it("rejects a handler without an export name", () => {
    expect(() => splitHandler("handlers/consume")).toThrow(/<module path>.<export>/);
  });
});
