import type { KafkaMessage } from "kafkajs";
import { FunctionTimeoutError } from "serverless-offline-kafka-trigger";
import { describe, expect, it } from "vitest";
import { txlogFailedRecord, txlogOutagePolicy } from "../../plugins/offline-kafka/binding.js";

/** What txlog hands the trigger package: its dead-letter format and its outage policy. */
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

describe("txlogFailedRecord (what txlog's kafka:// on-failure destination receives)", () => {
  it("keeps the key, value and headers and adds the error, the function and the source", () => {
    const record = message(42, "poison");
    const sent = txlogFailedRecord(
      "t",
      2,
      record,
      { functionKey: "consume", error: new Error("boom", { cause: new Error("why") }) },
      [],
    );
    expect(sent.key).toEqual(Buffer.from("k"));
    expect(sent.value).toEqual(Buffer.from("poison"));
    expect(sent.headers).toEqual({
      origin: "test",
      "dead-letter-reason": "function-error",
      "dead-letter-detail": "boom <- why",
      "dead-letter-function": "consume",
      "source-topic": "t",
      "source-partition": "2",
      "source-offset": "42",
      "source-timestamp": "1700000000000",
    });
  });

  it("names a timeout, and replaces a value too large to send again by a reference", () => {
    const big = message(1, "x".repeat(600 * 1024));
    const error = new FunctionTimeoutError('function "consume"', 50);
    const sent = txlogFailedRecord("t", 0, big, { functionKey: "consume", error }, []);
    expect(sent.value).toBeNull();
    expect(sent.headers).toMatchObject({
      "dead-letter-reason": "function-timeout",
      "dead-letter-detail": 'function "consume" took longer than 50 ms',
      "dead-letter-value": expect.stringMatching(/^omitted/),
    });
  });
});

describe("txlogOutagePolicy", () => {
  it("holds a batch through a function timeout or a refused database connection, never through a defect", () => {
    expect(txlogOutagePolicy.isOutage(new FunctionTimeoutError("f", 1))).toBe(true);
    expect(txlogOutagePolicy.isOutage(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe(true);
    expect(txlogOutagePolicy.isOutage(new TypeError("x is undefined"))).toBe(false);
  });
});
