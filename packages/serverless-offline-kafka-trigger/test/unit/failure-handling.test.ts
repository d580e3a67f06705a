import type { KafkaMessage } from "kafkajs";
import { describe, expect, it } from "vitest";
import type { BatchPart } from "../../src/batcher.js";
import {
  bisect,
  effectiveRetryAttempts,
  type FailureSettings,
  type FailureVerdict,
  RecordAgeExceededError,
  settleBatch,
} from "../../src/failure-handling.js";
import { awsFailureRecord, type FailureRecordDocument } from "../../src/on-failure-record.js";
import { FunctionTimeoutError } from "../../src/timeout.js";

function message(offset: number, value: string): KafkaMessage {
  return {
    key: Buffer.from("k"),
    value: Buffer.from(value),
    offset: String(offset),
    timestamp: "1700000000000",
    attributes: 0,
    headers: { origin: "test" },
  } as KafkaMessage;
}

/** Partition p holds `count` records valued "p:offset", or "poison" at the offsets listed. */
function part(partition: number, count: number, poison: number[] = []): BatchPart {
  const messages = Array.from({ length: count }, (_, offset) =>
    message(offset, poison.includes(offset) ? "poison" : `${partition}:${offset}`),
  );
  return { topic: "t", partition, messages };
}

const values = (parts: BatchPart[]) => parts.flatMap((one) => one.messages.map((m) => `${one.partition}@${m.offset}`));

/** A function that fails on "poison", and a retry policy whose verdicts the test scripts. */
function harness(verdicts: (parts: BatchPart[]) => FailureVerdict = () => "failure") {
  const invocations: string[][] = [];
  const delivered: string[] = [];
  const givenUp: { records: string[]; attempts: number }[] = [];
  const steps = {
    invoke: async (parts: BatchPart[]) => {
      invocations.push(values(parts));
      if (parts.some((one) => one.messages.some((m) => m.value?.toString() === "poison"))) throw new Error("poison");
      delivered.push(...values(parts));
    },
    afterFailure: async (parts: BatchPart[]) => verdicts(parts),
    giveUp: async (parts: BatchPart[], _error: unknown, attempts: number) => {
      givenUp.push({ records: values(parts), attempts });
      return true;
    },
  };
  return { steps, invocations, delivered, givenUp };
}

const settings = (overrides: Partial<FailureSettings>): FailureSettings => ({
  maximumRetryAttempts: -1,
  bisectBatchOnFunctionError: false,
  onFailureTopic: undefined,
  maximumRecordAgeInSeconds: -1,
  reportBatchItemFailures: false,
  ...overrides,
});

describe("bisect", () => {
  it("splits the records in two, keeping partition groups and event order", () => {
    const [first, second] = bisect([part(0, 3), part(1, 2)]);
    expect(values(first)).toEqual(["0@0", "0@1", "0@2"]);
    expect(values(second)).toEqual(["1@0", "1@1"]);
    const [left, right] = bisect([part(0, 2), part(1, 3)]);
    expect(left.map((one) => one.partition)).toEqual([0, 1]);
    expect(values(left)).toEqual(["0@0", "0@1", "1@0"]);
    expect(values(right)).toEqual(["1@1", "1@2"]);
  });
});

describe("settleBatch (Lambda's retries, bisecting and on-failure destination)", () => {
  it("isolates the failing record by bisecting, delivers every other one in order, and gives up on it after its retries", async () => {
    const { steps, delivered, givenUp, invocations } = harness();
    const parts = [part(0, 7, [4]), part(1, 7), part(2, 6)];
    expect(await settleBatch(parts, settings({ maximumRetryAttempts: 2, bisectBatchOnFunctionError: true }), steps)).toBe(true);
    expect(delivered).toEqual(values(parts).filter((record) => record !== "0@4"));
    expect(givenUp).toEqual([{ records: ["0@4"], attempts: 3 }]);
    // The poison alone: the first try and 2 retries.
    expect(invocations.filter((records) => records.length === 1 && records[0] === "0@4")).toHaveLength(3);
  });

  it("without bisecting, gives up on the whole batch after maximumRetryAttempts retries", async () => {
    const { steps, delivered, givenUp, invocations } = harness();
    expect(await settleBatch([part(0, 3, [1])], settings({ maximumRetryAttempts: 1 }), steps)).toBe(true);
    expect(invocations).toHaveLength(2);
    expect(delivered).toEqual([]);
    expect(givenUp).toEqual([{ records: ["0@0", "0@1", "0@2"], attempts: 2 }]);
  });

  it("caps infinite retries at 10 when a destination is set, as Lambda does", () => {
    expect(effectiveRetryAttempts(settings({ onFailureTopic: "dlt" }))).toBe(10);
    expect(effectiveRetryAttempts(settings({}))).toBe(-1);
    expect(effectiveRetryAttempts(settings({ maximumRetryAttempts: 0, onFailureTopic: "dlt" }))).toBe(0);
  });

  it("neither counts nor bisects attempts that failed during an outage", async () => {
    let outages = 5;
    const { steps, givenUp, invocations } = harness(() => (outages-- > 0 ? "outage" : "failure"));
    const result = settleBatch([part(0, 4, [0])], settings({ maximumRetryAttempts: 0, bisectBatchOnFunctionError: true }), steps);
    expect(await result).toBe(true);
    // 6 tries of the whole batch (5 during the outage), then 4 -> 2 -> 1 by bisecting.
    expect(invocations.slice(0, 6).every((records) => records.length === 4)).toBe(true);
    expect(invocations[6]).toHaveLength(2);
    expect(givenUp).toEqual([{ records: ["0@0"], attempts: 1 }]);
  });

  it("stops (false, nothing given up) when the policy reports the poller stopping", async () => {
    const { steps, givenUp } = harness(() => "stopped");
    expect(
      await settleBatch([part(0, 2, [0])], settings({ maximumRetryAttempts: 0, bisectBatchOnFunctionError: true }), steps),
    ).toBe(false);
    expect(givenUp).toEqual([]);
  });
});

describe("awsFailureRecord (what the kafka:// on-failure destination receives)", () => {
  const documentOf = (sent: { value: unknown }) => JSON.parse(String(sent.value)) as FailureRecordDocument;

  it("is AWS's invocation record with the failed record as payload, keyed and headed as the record", () => {
    const record = message(42, "poison");
    const parts = [{ topic: "t", partition: 2, messages: [message(41, "ok"), record] }];
    const sent = awsFailureRecord(
      "t",
      2,
      record,
      {
        functionKey: "consume",
        error: new Error("boom"),
        attempts: 3,
        eventSourceArn: "arn:aws:kafka:eu-west-1:0:cluster/c/1",
        bootstrapServers: ["b1:9092", "b2:9092"],
      },
      parts,
    );
    expect(sent.key).toEqual(Buffer.from("k"));
    expect(sent.headers).toEqual({ origin: "test" });
    const document = documentOf(sent);
    expect(Object.keys(document).sort()).toEqual([
      "KafkaBatchInfo",
      "payload",
      "requestContext",
      "responseContext",
      "timestamp",
      "version",
    ]);
    expect(document.requestContext).toMatchObject({
      functionArn: "arn:aws:lambda:local:000000000000:function:consume",
      condition: "RetryAttemptsExhausted",
      approximateInvokeCount: 3,
    });
    expect(document.responseContext).toEqual({ statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" });
    expect(document.version).toBe("1.0");
    expect(document.KafkaBatchInfo).toEqual({
      batchSize: 2,
      eventSourceArn: "arn:aws:kafka:eu-west-1:0:cluster/c/1",
      bootstrapServers: "b1:9092,b2:9092",
      payloadSize: 10,
      recordsInfo: {
        "t-2": {
          firstRecordOffset: "41",
          lastRecordOffset: "42",
          firstRecordTimestamp: "2023-11-14T22:13:20.000Z",
          lastRecordTimestamp: "2023-11-14T22:13:20.000Z",
        },
      },
    });
    expect(document.payload).toEqual({
      topic: "t",
      partition: 2,
      offset: 42,
      timestamp: 1_700_000_000_000,
      timestampType: "CREATE_TIME",
      key: Buffer.from("k").toString("base64"),
      value: Buffer.from("poison").toString("base64"),
      headers: [{ origin: [...Buffer.from("test")] }],
    });
  });

  it("says RecordAgeExceeded for records too old to invoke, and keeps a tombstone's null value", () => {
    const tombstone = { ...message(7, "x"), value: null } as unknown as KafkaMessage;
    const parts = [{ topic: "t", partition: 0, messages: [tombstone] }];
    const aged = documentOf(
      awsFailureRecord("t", 0, tombstone, { functionKey: "f", error: new RecordAgeExceededError("old") }, parts),
    );
    expect(aged.requestContext).toMatchObject({ condition: "RecordAgeExceeded", approximateInvokeCount: 0 });
    expect(aged.payload.value).toBeNull();
    const timedOut = documentOf(
      awsFailureRecord("t", 0, tombstone, { functionKey: "f", error: new FunctionTimeoutError("f", 5) }, parts),
    );
    expect(timedOut.requestContext.condition).toBe("RetryAttemptsExhausted");
  });
});

describe("settleBatch: record age and partial batch responses", () => {
  it("gives up on records older than maximumRecordAgeInSeconds without invoking them, and invokes the rest", async () => {
    const { steps, delivered, givenUp } = harness();
    const now = 1700000000000 + 120_000;
    const old = part(0, 2);
    const fresh = {
      ...part(0, 2),
      messages: part(0, 4)
        .messages.slice(2)
        .map((m) => ({ ...m, timestamp: String(now - 1_000) })),
    };
    const parts = [{ ...old, messages: [...old.messages, ...fresh.messages] }];
    expect(await settleBatch(parts, settings({ maximumRecordAgeInSeconds: 60 }), { ...steps, now: () => now })).toBe(true);
    expect(givenUp).toEqual([{ records: ["0@0", "0@1"], attempts: 0 }]);
    expect(delivered).toEqual(["0@2", "0@3"]);
  });

  it("retries only the records the function names in batchItemFailures", async () => {
    const invocations: string[][] = [];
    const parts = [part(0, 3), part(1, 3)];
    const steps = {
      invoke: async (batch: BatchPart[]) => {
        invocations.push(values(batch));
        return invocations.length === 1
          ? {
              batchItemFailures: [
                { itemIdentifier: { partition: "t-0", offset: 1 } },
                { itemIdentifier: { partition: "t-1", offset: 2 } },
              ],
            }
          : { batchItemFailures: [] };
      },
      afterFailure: async () => "failure" as const,
      giveUp: async () => true,
    };
    expect(await settleBatch(parts, settings({ reportBatchItemFailures: true }), steps)).toBe(true);
    expect(invocations).toEqual([values(parts), ["0@1", "1@2"]]);
  });

  it("retries the whole batch when an identifier is malformed, and ignores batchItemFailures unless ReportBatchItemFailures is on", async () => {
    const invocations: string[][] = [];
    const answers: unknown[] = [{ batchItemFailures: [{ itemIdentifier: { partition: "t-0", offset: "1" } }] }, undefined];
    const steps = {
      invoke: async (batch: BatchPart[]) => {
        invocations.push(values(batch));
        return answers[invocations.length - 1];
      },
      afterFailure: async () => "failure" as const,
      giveUp: async () => true,
    };
    const parts = [part(0, 3)];
    expect(await settleBatch(parts, settings({ reportBatchItemFailures: true }), steps)).toBe(true);
    expect(invocations).toEqual([values(parts), values(parts)]);
    invocations.length = 0;
    answers[0] = { batchItemFailures: [{ itemIdentifier: { partition: "t-0", offset: 1 } }] };
    expect(await settleBatch(parts, settings({}), steps)).toBe(true);
    expect(invocations).toEqual([values(parts)]);
  });

  it("gives up on the named records after their retries", async () => {
    const givenUp: string[][] = [];
    const steps = {
      invoke: async () => ({ batchItemFailures: [{ itemIdentifier: { partition: "t-0", offset: 2 } }] }),
      afterFailure: async () => "failure" as const,
      giveUp: async (batch: BatchPart[]) => {
        givenUp.push(values(batch));
        return true;
      },
    };
    expect(await settleBatch([part(0, 3)], settings({ reportBatchItemFailures: true, maximumRetryAttempts: 1 }), steps)).toBe(
      true,
    );
    expect(givenUp).toEqual([["0@2"]]);
  });
});
