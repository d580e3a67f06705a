import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { MSKEvent } from "aws-lambda";
import { buildMskEvent } from "serverless-offline-kafka-trigger";
import { describe, expect, it } from "vitest";
import { classifyRecord, isPoison, MAX_RECEIVED_AT_SKEW_MS, MAX_RECORD_BYTES } from "../../lib/consumer/classify.js";
import { toDeadLetterMessage } from "../../lib/consumer/dead-letters.js";
import { partitionRanges, toTransactionRow } from "../../lib/consumer/persist.js";
import { type DecodedRecord, decodeMskEvent } from "../../lib/kafka/msk-event.js";

const fixture = JSON.parse(readFileSync(resolve(import.meta.dirname, "../fixtures/msk-event.json"), "utf8")) as MSKEvent;

/** The structure of a JSON value: keys and types, not values. */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.length ? [shapeOf(value[0])] : [];
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, shapeOf(inner)]));
  }
  return typeof value;
}

describe("the MSK fixture", () => {
  it("has the AWS example's shape: records keyed topic-partition, base64 key/value, byte-array headers", () => {
    expect(fixture.eventSource).toBe("aws:kafka");
    for (const [name, records] of Object.entries(fixture.records)) {
      for (const record of records) {
        expect(name).toBe(`${record.topic}-${record.partition}`);
        expect(Buffer.from(record.value, "base64").toString("base64")).toBe(record.value);
        for (const header of record.headers) {
          for (const bytes of Object.values(header))
            expect(bytes.every((byte) => Number.isInteger(byte) && byte >= 0 && byte < 256)).toBe(true);
        }
      }
    }
  });

  it("decodes to valid TransactionMessages", () => {
    const classified = decodeMskEvent(fixture).map(classifyRecord);
    expect(classified).toHaveLength(3);
    expect(classified.filter(isPoison)).toEqual([]);
  });
});

describe("buildMskEvent", () => {
  const built = buildMskEvent(
    [
      {
        topic: "transactions",
        partition: 0,
        messages: [
          {
            key: Buffer.from("C1"),
            value: Buffer.from('{"a":1}'),
            offset: "15",
            timestamp: "1545084650987",
            headers: { "content-type": Buffer.from("application/json") },
          },
          {
            key: null,
            value: Buffer.from("é"),
            offset: "16",
            timestamp: "1545084650990",
            headers: { h: [Buffer.from("x"), Buffer.from("y")] },
          },
        ],
      },
      {
        topic: "transactions",
        partition: 2,
        messages: [{ key: Buffer.from("C2"), value: Buffer.from("v"), offset: "7", timestamp: "1", headers: {} }],
      },
      { topic: "transactions", partition: 1, messages: [] },
    ],
    { bootstrapServers: ["127.0.0.1:9092", "127.0.0.1:9093"], eventSourceArn: "arn:aws:kafka:local:0:cluster/x" },
  );

  it("matches the fixture's structure (keys and types)", () => {
    expect(shapeOf({ ...built, records: {} })).toEqual(shapeOf({ ...fixture, records: {} }));
    const fixtureRecord = Object.values(fixture.records)[0]?.[0];
    const builtRecord = built.records["transactions-0"]?.[0];
    expect(shapeOf(builtRecord)).toEqual(shapeOf(fixtureRecord));
    expect(built.bootstrapServers).toBe("127.0.0.1:9092,127.0.0.1:9093");
  });

  it("keys records by topic-partition and skips empty partitions", () => {
    expect(Object.keys(built.records).sort()).toEqual(["transactions-0", "transactions-2"]);
    expect(built.records["transactions-0"]?.map((record) => [record.partition, record.offset])).toEqual([
      [0, 15],
      [0, 16],
    ]);
  });

  it("encodes headers as byte arrays, one object per occurrence, and omits a missing key", () => {
    const [first, second] = built.records["transactions-0"] ?? [];
    expect(first?.headers).toEqual([{ "content-type": [...Buffer.from("application/json")] }]);
    expect(second?.headers).toEqual([{ h: [120] }, { h: [121] }]);
    expect(second && "key" in second).toBe(false);
  });

  it("round-trips key, value (base64) and headers through decodeMskEvent", () => {
    const decoded = decodeMskEvent(built);
    expect(
      decoded.map(({ partition, offset, key, value, headers }) => ({
        partition,
        offset,
        key,
        value: value.toString("utf8"),
        headers,
      })),
    ).toEqual([
      { partition: 0, offset: 15, key: "C1", value: '{"a":1}', headers: { "content-type": "application/json" } },
      { partition: 0, offset: 16, key: null, value: "é", headers: { h: "y" } },
      { partition: 2, offset: 7, key: "C2", value: "v", headers: {} },
    ]);
  });
});

function record(value: Buffer | string, offset = 1): DecodedRecord {
  return {
    topic: "t",
    partition: 0,
    offset,
    timestamp: 1,
    key: "k",
    value: Buffer.isBuffer(value) ? value : Buffer.from(value),
    headers: { trace: "1" },
  };
}

describe("classifyRecord (the poison policy)", () => {
  const valid = decodeMskEvent(fixture)[0] as DecodedRecord;

  it("maps a valid message to a Completed row with its Kafka coordinates and exact amounts", () => {
    const result = classifyRecord(valid);
    if (isPoison(result)) throw new Error(result.detail);
    expect(toTransactionRow(result)).toMatchObject({
      id: "01890a5d-ac96-774b-bcce-b302099a8057",
      amount: "9839.64",
      oldbalanceOrg: "170136",
      status: "Completed",
      isFraud: false,
      kafkaTopic: "transactions",
      kafkaPartition: 0,
      kafkaOffset: 15,
      receivedAt: new Date("2018-12-17T22:10:50.987Z"),
    });
  });

  it.each([
    ["empty value", record(""), "undecodable", /empty/],
    ["not JSON", record("{nope"), "undecodable", /not UTF-8 JSON/],
    ["not UTF-8", record(Buffer.from([0xff, 0xfe, 0x7b])), "undecodable", /not UTF-8 JSON/],
    ["schema-invalid", record(JSON.stringify({ id: "x", receivedAt: "now", transaction: {} })), "invalid", /id: /],
    ["oversized", record(Buffer.alloc(MAX_RECORD_BYTES + 1, 0x20)), "oversized", /limit/],
  ])("%s -> %s", (_name, input, reason, detail) => {
    const result = classifyRecord(input);
    expect(isPoison(result) && result.reason).toBe(reason);
    expect(isPoison(result) && result.detail).toMatch(detail);
  });

  it("refuses a receivedAt later than the record's Kafka timestamp by more than the skew (it would pin every newest-first read)", () => {
    const at = Date.parse("2026-12-07T10:00:00.000Z");
    const withReceivedAt = (receivedAt: string) => {
      const message = JSON.parse(valid.value.toString("utf8")) as Record<string, unknown>;
      return { ...valid, timestamp: at, value: Buffer.from(JSON.stringify({ ...message, receivedAt })) };
    };
    const future = classifyRecord(withReceivedAt("9999-12-31T23:59:59.999Z"));
    expect(isPoison(future) && future.reason).toBe("invalid");
    expect(isPoison(future) && future.detail).toMatch(/later than the record's Kafka timestamp/);
    expect(isPoison(future) && future.transactionId).toBe("01890a5d-ac96-774b-bcce-b302099a8057");
    const justOver = classifyRecord(withReceivedAt(new Date(at + MAX_RECEIVED_AT_SKEW_MS + 1).toISOString()));
    expect(isPoison(justOver)).toBe(true);
    const within = classifyRecord(withReceivedAt(new Date(at + MAX_RECEIVED_AT_SKEW_MS).toISOString()));
    expect(isPoison(within)).toBe(false);
  });

  it("builds a dead-letter message with the original bytes and the reason and source in headers", () => {
    const poison = classifyRecord(record("{nope", 42));
    if (!isPoison(poison)) throw new Error("expected poison");
    const message = toDeadLetterMessage(poison);
    expect(message.value).toEqual(Buffer.from("{nope"));
    expect(message.key).toBe("k");
    expect(message.headers).toMatchObject({
      trace: "1",
      "dead-letter-reason": "undecodable",
      "source-topic": "t",
      "source-partition": "0",
      "source-offset": "42",
    });
  });

  it("summarises offset ranges per topic-partition", () => {
    expect(partitionRanges([record("a", 5), record("b", 3), { ...record("c", 9), partition: 1 }])).toEqual({
      "t-0": { count: 2, firstOffset: 3, lastOffset: 5 },
      "t-1": { count: 1, firstOffset: 9, lastOffset: 9 },
    });
  });
});
