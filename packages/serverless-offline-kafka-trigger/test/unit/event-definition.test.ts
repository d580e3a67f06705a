import { describe, expect, it } from "vitest";
import {
  collectKafkaEventDefinitions,
  KafkaEventDefinitionError,
  parseKafkaEventDefinition,
} from "../../src/event-definition.js";
import { splitHandler } from "../../src/handler-loader.js";
import { pluginSettings } from "../../src/serverless.js";
import { definitionFromOptions } from "../../src/worker-options.js";

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
      maximumRecordAgeInSeconds: -1,
      reportBatchItemFailures: false,
      filterPatterns: [],
      metrics: [],
      systemLogLevel: undefined,
      filters: [],
    });
  });

  it("reads the other event source mapping options: AT_TIMESTAMP, filters, record age, partial batch responses", () => {
    const definition = parseKafkaEventDefinition(
      "consume",
      "h.handler",
      {
        msk: {
          arn: ARN,
          topic: "t",
          startingPosition: "AT_TIMESTAMP",
          startingPositionTimestamp: 1_700_000_000,
          filterPatterns: [{ value: { type: ["PAYMENT"] } }, { value: { amount: [{ numeric: [">", 100] }] } }],
          maximumRecordAgeInSeconds: 3600,
          functionResponseTypes: ["ReportBatchItemFailures"],
          saslScram512: "arn:aws:secretsmanager:eu-west-1:0:secret:x",
          provisionedPollerConfig: { minimumPollers: 1, maximumPollers: 2, pollerGroupName: "payments-group" },
          metricsConfig: { metrics: ["EventCount", "KafkaMetrics"] },
          loggingConfig: { systemLogLevel: "WARN" },
          kmsKeyArn: "arn:aws:kms:eu-west-1:0:key/k",
          tags: { team: "payments" },
        },
      },
      "g",
    );
    expect(definition).toMatchObject({
      startingPosition: "AT_TIMESTAMP",
      startingPositionTimestamp: 1_700_000_000,
      maximumRecordAgeInSeconds: 3600,
      reportBatchItemFailures: true,
      metrics: ["EventCount", "KafkaMetrics"],
      systemLogLevel: "WARN",
    });
    expect(definition?.filters).toHaveLength(2);
  });

  it("makes a kafka (self-managed) event without an ARN", () => {
    const definition = parseKafkaEventDefinition(
      "fn",
      "h.handler",
      { kafka: { topic: "t", bootstrapServers: ["x:9092"], accessConfigurations: { saslScram512Auth: ["arn:x"] } } },
      "g",
    );
    expect(definition).toMatchObject({ eventType: "kafka", eventSourceArn: undefined });
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
    expect(definition?.eventSourceArn).toBeUndefined();
    const msk = parseKafkaEventDefinition("fn", "h.handler", { msk: { topic: "t", arn: { Ref: "Cluster" } } }, "g");
    expect(msk?.eventSourceArn).toMatch(/^arn:aws:kafka:local:/);
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
    [{ msk: { topic: "t", startingPosition: "AT_TIMESTAMP" } }, /AT_TIMESTAMP needs startingPositionTimestamp/],
    [
      { msk: { topic: "t", startingPositionTimestamp: 1 } },
      /startingPositionTimestamp is only valid with startingPosition AT_TIMESTAMP/,
    ],
    [{ msk: { topic: "t", startingPosition: "EARLIEST" } }, /TRIM_HORIZON, LATEST or AT_TIMESTAMP/],
    [{ msk: { topic: "t", parallelizationFactor: 2 } }, /unknown or unsupported option "parallelizationFactor"/],
    [{ msk: { topic: "t", bootstrapServers: ["x:1"] } }, /unknown or unsupported option "bootstrapServers"/],
    [
      { kafka: { topic: "t", arn: ARN, tumblingWindowInSeconds: 5 } },
      /unknown or unsupported options "arn", "tumblingWindowInSeconds"/,
    ],
    [{ msk: { topic: "t", maximumRecordAgeInSeconds: 59 } }, /maximumRecordAgeInSeconds must be -1 or 60 to 604800/],
    [{ msk: { topic: "t", maximumRecordAgeInSeconds: 604_801 } }, /maximumRecordAgeInSeconds/],
    [
      { msk: { topic: "t", functionResponseTypes: ["Partial"] } },
      /functionResponseTypes must be a list of "ReportBatchItemFailures"/,
    ],
    [{ msk: { topic: "t", filterPatterns: [] } }, /filterPatterns must be a list of 1 to 10 patterns/],
    [{ msk: { topic: "t", filterPatterns: [{ key: { a: ["x"] } }] } }, /filter on "value" only \(got "key"\)/],
    [{ msk: { topic: "t", filterPatterns: [{ value: { a: [{ wildcard: "x*" }] } }] } }, /unknown filter operator "wildcard"/],
    [{ msk: { topic: "t", filterPatterns: [{ value: { a: [{ numeric: ["~", 1] }] } }] } }, /unknown numeric operator/],
    [{ msk: { topic: "t", provisionedPollerConfig: { minimumPollers: 3, maximumPollers: 2 } } }, /minimumPollers \(3\) exceeds/],
    [{ msk: { topic: "t", provisionedPollerConfig: { pollerGroupName: "bad name!" } } }, /pollerGroupName must be 1 to 128/],
    [{ msk: { topic: "t", provisionedPollerConfig: { pollers: 2 } } }, /unknown option pollers/],
    [
      { msk: { topic: "t", metricsConfig: { metrics: ["Latency"] } } },
      /metricsConfig must be \{ metrics: \[EventCount \| ErrorCount \| KafkaMetrics\] \}/,
    ],
    [
      { msk: { topic: "t", loggingConfig: { systemLogLevel: "TRACE" } } },
      /loggingConfig must be \{ systemLogLevel: DEBUG \| INFO \| WARN \}/,
    ],
    [{ msk: { topic: "t", schemaRegistryConfig: { schemaRegistryURI: "x" } } }, /schemaRegistryConfig is not emulated/],
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

  it("custom.offlineKafka holds the plugin's own settings; an event source mapping option there says where it goes", () => {
    expect(pluginSettings({ offlineKafka: { brokers: "a:9092, b:9092", enabled: "false" } })).toEqual({
      brokers: ["a:9092", "b:9092"],
      enabled: false,
    });
    expect(pluginSettings(undefined)).toEqual({});
    expect(() => pluginSettings({ offlineKafka: { maximumRetryAttempts: 3 } })).toThrow(
      /custom.offlineKafka: "maximumRetryAttempts" is an event source mapping option: put it on the function's msk\/kafka event/,
    );
    expect(() => pluginSettings({ offlineKafka: { consume: {} } })).toThrow(
      /unknown option "consume" \(known: brokers, enabled\)/,
    );
    expect(() => pluginSettings({ offlineKafka: { brokers: [] } })).toThrow(/brokers must be/);
  });

  it("names the option serverless.yml gives that the trigger does not know, before anything polls", () => {
    const functions = {
      consume: { handler: "handlers/consume.handler", events: [{ msk: { arn: ARN, topic: "a", maxConcurrency: 2 } }] },
    };
    expect(() => collectKafkaEventDefinitions("txlog", functions)).toThrow(
      /function "consume", msk event: unknown or unsupported option "maxConcurrency"/,
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
      maximumRecordAgeInSeconds: -1,
      reportBatchItemFailures: false,
      filterPatterns: [],
      metrics: [],
      systemLogLevel: undefined,
      filters: [],
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
    [{ startingPosition: "at-timestamp" }, /AT_TIMESTAMP needs startingPositionTimestamp/],
    [{ maximumRecordAgeInSeconds: "10" }, /maximumRecordAgeInSeconds must be -1 or 60/],
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
