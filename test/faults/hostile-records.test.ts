import type { MSKEvent, MSKRecord } from "aws-lambda";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { persistMskEvent } from "../../lib/consumer/persist.js";
import { closeDb, getPool } from "../../lib/db/client.js";
import { fingerprintOf } from "../../lib/idempotency.js";
import { parseTransaction } from "../../lib/ingest.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { disconnectProducer } from "../../lib/kafka/producer.js";
import { paysimExamples, TransactionInput } from "../../lib/transaction.js";
import { recordFaultRow } from "../support/fault-results.js";
import { readAllMessages, testKafka, uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

/**
 * Records that pass a naive check but break a naive consumer: each must be stored or dead-lettered with
 * its reason, and the rest of its batch (and every later record) stored. Real broker, real database.
 */

/** The documented payment as the API writes it into a message (exact decimal strings). */
const transaction = TransactionInput.parse(paysimExamples.payment);

const message = (overrides: Record<string, unknown> = {}) => ({
  id: uuidv7(),
  receivedAt: new Date().toISOString(),
  transaction,
  ...overrides,
});

const b64 = (value: string | Buffer) => Buffer.from(value).toString("base64");

function eventOf(topic: string, values: (string | Buffer)[], keys: (string | Buffer | undefined)[] = []): MSKEvent {
  const records: MSKRecord[] = values.map(
    (value, offset) =>
      ({
        topic,
        partition: 0,
        offset,
        timestamp: Date.now(),
        timestampType: "CREATE_TIME",
        ...(keys[offset] !== undefined ? { key: b64(keys[offset] as string | Buffer) } : {}),
        value: b64(value),
        headers: [],
      }) as MSKRecord,
  );
  return {
    eventSource: "aws:kafka",
    eventSourceArn: "arn:test",
    bootstrapServers: "127.0.0.1:9092",
    records: { [`${topic}-0`]: records },
  };
}

async function deadLettersOf(topic: string) {
  const { rows } = await getPool().query<{ offset: string; reason: string; detail: string; key: string | null; value: string }>(
    `select "offset", reason, detail, key, value from dead_letters where topic = $1 order by "offset"`,
    [topic],
  );
  return rows.map((row) => ({ ...row, offset: Number(row.offset) }));
}

async function storedIds(ids: string[]): Promise<string[]> {
  const { rows } = await getPool().query<{ id: string }>("select id from transactions where id = any($1::uuid[])", [ids]);
  return rows.map((row) => row.id);
}

afterAll(async () => {
  await disconnectProducer();
  await closeDb();
});

describe("hostile records in one batch", () => {
  it("dead-letters dates PostgreSQL cannot hold, NUL characters and floats, and stores the rest", async () => {
    const topic = uniqueName("test.hostile");
    const deadLetterTopic = uniqueName("test.hostile.dlq");
    const good = [message(), message()];
    const values = [
      JSON.stringify(good[0]),
      JSON.stringify(message({ receivedAt: "0000-01-01T00:00:00Z" })),
      JSON.stringify(message({ receivedAt: "2024-02-30T00:00:00Z" })),
      JSON.stringify(message({ receivedAt: "+275760-09-13T00:00:00Z" })),
      // zod copies an unknown key into its message; JSON.parse copies the bad text into its own.
      JSON.stringify({ ...message(), "evil\u0000key": 1 }),
      `{"id": "\u0000`,
      // Money as a JSON number has passed through a double: never stored.
      JSON.stringify(message({ transaction: { ...transaction, amount: 99999999999999.98 } })),
      JSON.stringify(good[1]),
    ];
    const keys = [undefined, "k\u0000ey", undefined, undefined, undefined, Buffer.from([0, 255, 0]), undefined, undefined];
    const summary = await persistMskEvent(eventOf(topic, values, keys), { deadLetterTopic });

    expect(summary).toMatchObject({ count: 8, inserted: 2, deadLettered: 6 });
    expect((await storedIds(good.map((one) => one.id))).sort()).toEqual(good.map((one) => one.id).sort());
    const letters = await deadLettersOf(topic);
    expect(letters.map((letter) => [letter.offset, letter.reason])).toEqual([
      [1, "invalid"],
      [2, "invalid"],
      [3, "invalid"],
      [4, "invalid"],
      [5, "undecodable"],
      [6, "invalid"],
    ]);
    for (const letter of letters) {
      expect(letter.detail).not.toContain("\u0000");
      expect(letter.key ?? "").not.toContain("\u0000");
      // The original bytes, whatever they were, are kept.
      expect(Buffer.from(letter.value, "base64").toString("utf8")).toBe(values[letter.offset]);
    }
    expect(letters[0]?.key).toBe("k\\u0000ey");
    expect(letters[3]?.detail).toContain("\\u0000");
    const published = await readAllMessages(testKafka(), deadLetterTopic);
    expect(published.map((one) => String(one.headers?.["source-offset"])).sort()).toEqual(["1", "2", "3", "4", "5", "6"]);
    recordFaultRow({
      scenario: "hostile records: year 0000, Feb 30, year 275760, NUL in key/field/JSON, float money",
      accepted: good.length,
      stored: (await storedIds(good.map((one) => one.id))).length,
      lost: good.length - (await storedIds(good.map((one) => one.id))).length,
      duplicated: 0,
      deadLettered: letters.length,
      redelivered: 0,
      recoverMs: null,
      note: "8 records in one batch; the batch and its partition flow on",
    });
  });

  it("dead-letters a receivedAt from the future (later than the record's Kafka timestamp), so it cannot pin the newest reads", async () => {
    const topic = uniqueName("test.hostile-future");
    const deadLetterTopic = uniqueName("test.hostile-future.dlq");
    const good = message();
    const future = message({ receivedAt: "9999-12-31T23:59:59.999Z" });
    const summary = await persistMskEvent(eventOf(topic, [JSON.stringify(future), JSON.stringify(good)]), { deadLetterTopic });
    expect(summary).toMatchObject({ count: 2, inserted: 1, deadLettered: 1 });
    expect(await storedIds([future.id, good.id])).toEqual([good.id]);
    const letters = await deadLettersOf(topic);
    expect(letters.map((letter) => [letter.offset, letter.reason])).toEqual([[0, "invalid"]]);
    expect(letters[0]?.detail).toMatch(/later than the record's Kafka timestamp/);
    const { rows } = await getPool().query("select transaction_id::text as id from dead_letters where topic = $1", [topic]);
    expect(rows).toEqual([{ id: future.id }]);
  });

  it("sends a reference instead of a copy when dead letters would pass the broker's message limit", async () => {
    const topic = uniqueName("test.hostile-large");
    const deadLetterTopic = uniqueName("test.hostile-large.dlq");
    // Each just under what the broker takes (1 MiB); copies plus headers in one request would not fit.
    const large = (fill: string) => JSON.stringify({ ...message(), padding: fill.repeat(900 * 1024) });
    const values = [large("a"), large("b"), JSON.stringify(message())];
    const summary = await persistMskEvent(eventOf(topic, values), { deadLetterTopic });
    expect(summary).toMatchObject({ count: 3, inserted: 1, deadLettered: 2 });
    const letters = await deadLettersOf(topic);
    expect(letters.map((letter) => Buffer.from(letter.value, "base64").length)).toEqual([values[0]?.length, values[1]?.length]);
    const published = await readAllMessages(testKafka(), deadLetterTopic);
    expect(published).toHaveLength(2);
    for (const one of published) {
      expect(one.value).toBeNull();
      expect(String(one.headers?.["dead-letter-value"])).toContain("dead_letters");
    }
    recordFaultRow({
      scenario: "hostile records: two 900 kB poison values in one batch",
      accepted: 1,
      stored: summary.inserted,
      lost: 1 - summary.inserted,
      duplicated: 0,
      deadLettered: letters.length,
      redelivered: 0,
      recoverMs: null,
      note: "topic copies carry a reference (broker limit 1 MiB); table keeps the bytes",
    });
  });

  it("dead-letters a batch of 10,000 poison records (past PostgreSQL's 65,535-parameter limit in one INSERT)", async () => {
    const topic = uniqueName("test.hostile-many");
    const deadLetterTopic = uniqueName("test.hostile-many.dlq");
    const values = Array.from({ length: 10_000 }, (_, index) => `not json ${index}`);
    const good = message();
    values.push(JSON.stringify(good));
    const summary = await persistMskEvent(eventOf(topic, values), { deadLetterTopic });
    expect(summary).toMatchObject({ count: 10_001, inserted: 1, deadLettered: 10_000 });
    expect(await deadLettersOf(topic)).toHaveLength(10_000);
    expect(await storedIds([good.id])).toEqual([good.id]);
    recordFaultRow({
      scenario: "hostile records: 10,000 poison records in one batch",
      accepted: 1,
      stored: (await storedIds([good.id])).length,
      lost: 1 - (await storedIds([good.id])).length,
      duplicated: 0,
      deadLettered: (await deadLettersOf(topic)).length,
      redelivered: 0,
      recoverMs: null,
      note: "dead-letter INSERTs chunked under 65,535 parameters",
    });
  }, 120_000);
});

describe("an id that is already stored", () => {
  it("dead-letters a keyed message whose fingerprint differs (idempotency-conflict); a redelivery is a duplicate", async () => {
    const topic = uniqueName("test.conflict");
    const deadLetterTopic = uniqueName("test.conflict.dlq");
    const first = parseTransaction({ ...transaction, amount: "1.00" });
    const second = parseTransaction({ ...transaction, amount: "2.00" });
    const id = uuidv7();
    const keyed = (item: typeof first) =>
      JSON.stringify(
        message({ id, transaction: item, idempotencyKey: "reused-key", fingerprint: fingerprintOf("transaction", [item]) }),
      );
    const summary = await persistMskEvent(eventOf(topic, [keyed(first), keyed(first), keyed(second)]), { deadLetterTopic });
    expect(summary).toMatchObject({ count: 3, inserted: 1, duplicates: 1, deadLettered: 1 });
    expect((await deadLettersOf(topic)).map((letter) => [letter.offset, letter.reason])).toEqual([[2, "idempotency-conflict"]]);
    const { rows } = await getPool().query("select amount::text from transactions where id = $1", [id]);
    expect(rows).toEqual([{ amount: "1.00" }]);
    recordFaultRow({
      scenario: "idempotency: same key, other body, same id in one batch",
      accepted: 1,
      stored: rows.length,
      lost: 1 - rows.length,
      duplicated: 0,
      deadLettered: 1,
      redelivered: 0,
      recoverMs: null,
      note: "dead-lettered as idempotency-conflict, never silently skipped",
    });
  });

  it("dead-letters an unkeyed message with other content under a stored id (id-conflict)", async () => {
    const topic = uniqueName("test.conflict-plain");
    const id = uuidv7();
    const values = [
      JSON.stringify(message({ id })),
      JSON.stringify(message({ id, transaction: { ...transaction, amount: "9839.640" } })),
      JSON.stringify(message({ id, transaction: { ...transaction, amount: "5.00" } })),
    ];
    const summary = await persistMskEvent(eventOf(topic, values), { deadLetterTopic: uniqueName("test.conflict-plain.dlq") });
    // 9839.640 is the same amount (a redelivery written differently); 5.00 is not.
    expect(summary).toMatchObject({ count: 3, inserted: 1, duplicates: 1, deadLettered: 1 });
    expect((await deadLettersOf(topic)).map((letter) => [letter.offset, letter.reason])).toEqual([[2, "id-conflict"]]);
  });
});

describe("the running pipeline with hostile records in its topic", () => {
  let server: OfflineServer;
  const topic = uniqueName("test.hostile-pipeline");
  const deadLetterTopic = `${topic}.dlq`;

  beforeAll(async () => {
    await ensureTopics([topic, deadLetterTopic]);
    server = await startOffline({ env: { TRANSACTIONS_TOPIC: topic, DEAD_LETTER_TOPIC: deadLetterTopic } });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("stores a valid POST made after the hostile records within seconds, and dead-letters each of them", async () => {
    const producer = testKafka().producer();
    await producer.connect();
    const hostile = [
      JSON.stringify(message({ receivedAt: "0000-01-01T00:00:00Z" })),
      JSON.stringify({ ...message(), "\u0000": 1 }),
      "\u0000",
      JSON.stringify(message({ transaction: { ...transaction, amount: 0.1 } })),
    ];
    // One per partition and more: whichever partition the POST lands on holds hostile records before it.
    await producer.send({
      topic,
      messages: [0, 1, 2].flatMap((partition) => hostile.map((value) => ({ partition, key: "k\u0000", value }))),
    });
    await producer.disconnect();

    const response = await fetch(`${server.baseUrl}/transaction`, {
      method: "POST",
      headers: server.headers({ "content-type": "application/json" }),
      body: JSON.stringify({ ...transaction, amount: 19169204.93 }),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const started = Date.now();
    let stored: Response | undefined;
    while (Date.now() - started < 15_000) {
      stored = await fetch(`${server.baseUrl}/transactions/${id}`, { headers: server.headers() });
      if (stored.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(stored?.status, server.output().slice(-3000)).toBe(200);
    expect(await stored?.json()).toMatchObject({ status: "Completed", amount: "19169204.93" });
    expect(await deadLettersOf(topic)).toHaveLength(12);
    recordFaultRow({
      scenario: "pipeline: 12 hostile records ahead of a valid POST on every partition",
      accepted: 1,
      stored: 1,
      lost: 1 - 1,
      duplicated: 0,
      deadLettered: (await deadLettersOf(topic)).length,
      redelivered: 0,
      recoverMs: null,
      note: "the POST was Completed within seconds",
    });
  }, 60_000);
});
