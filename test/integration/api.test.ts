import { randomInt } from "node:crypto";
import { eq, inArray } from "drizzle-orm";
import type { Admin, KafkaMessage } from "kafkajs";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDb, getDb } from "../../lib/db/client.js";
import { type NewTransactionRow, transactions } from "../../lib/db/schema.js";
import { insertTransactions } from "../../lib/db/transactions.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { disconnectProducer } from "../../lib/kafka/producer.js";
import { freePort } from "../../scripts/infra/index.js";
import { readTopic as readTopicFrom, testKafka, uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

/**
 * The HTTP side against the real `serverless offline start` (with its local Kafka trigger), the real
 * broker and the test database. Every request the tests make is checked against what Kafka and
 * PostgreSQL then hold, not against the handler's own word.
 */

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked with expect(), field by field.
type JsonBody = Record<string, any>;

const topic = uniqueName("test.api");
const consumerGroup = uniqueName("test.api-consume");
/** Small, so the "too many items" case needs a small body; the default (1,000) is the same code path. */
const MAX_BULK = 5;
const kafka = testKafka();
let admin: Admin;
let server: OfflineServer;

/** Ids unique to this run, so filters isolate our rows in the shared test database. */
const runTag = String(randomInt(1e8, 1e9));
const account = (suffix: string) => `C${runTag}${suffix}`;

function paysim(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    step: 1,
    type: "TRANSFER",
    amount: "1.916920493E7",
    nameOrig: account("0"),
    oldbalanceOrg: 170136.0,
    newbalanceOrig: "160296.36",
    nameDest: "M1979787155",
    oldbalanceDest: 0,
    newbalanceDest: "1.0E7",
    isFraud: 1,
    isFlaggedFraud: 0,
    ...overrides,
  };
}

async function post(path: string, body: unknown, headers: Record<string, string> = { "content-type": "application/json" }) {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method: "POST",
    headers: server.headers(headers),
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as JsonBody };
}

async function get(path: string) {
  const response = await fetch(`${server.baseUrl}${path}`, { headers: server.headers() });
  return { status: response.status, body: (await response.json()) as JsonBody };
}

/** The topic's end offsets summed over partitions: how many messages were ever produced to it. */
async function producedCount(): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, { high }) => sum + Number(high), 0);
}

/** Reads the topic from the beginning with a group of its own until `until` holds, or fails after the timeout. */
const readTopic = (until: (messages: KafkaMessage[]) => boolean, timeoutMs = 30_000) =>
  readTopicFrom(kafka, topic, until, timeoutMs);

const messageValue = (message: KafkaMessage) => JSON.parse(message.value?.toString("utf8") ?? "null") as JsonBody;

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  await ensureTopics([topic]);
  server = await startOffline({
    env: { TRANSACTIONS_TOPIC: topic, CONSUMER_GROUP_ID: consumerGroup, MAX_BULK_TRANSACTIONS: String(MAX_BULK) },
  });
});

afterAll(async () => {
  await server?.stop();
  await getDb()
    .delete(transactions)
    .where(inArray(transactions.nameOrig, [account("0"), account("1"), account("2"), account("M"), account("R"), account("D")]));
  await admin?.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin?.disconnect();
  await disconnectProducer();
  await closeDb();
});

describe("POST /transaction", () => {
  it("answers 202 with the id and Location once Kafka holds the message, keyed by nameOrig, amounts exact", async () => {
    const response = await post("/transaction", paysim());

    expect(response.status).toBe(202);
    expect(response.body).toEqual({ id: expect.any(String), status: "Accepted" });
    const id = response.body.id as string;
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(response.headers.get("location")).toBe(`/transactions/${id}`);

    const messages = await readTopic((seen) => seen.some((message) => messageValue(message).id === id));
    const message = messages.find((one) => messageValue(one).id === id);
    expect(message?.key?.toString()).toBe(account("0"));
    const value = messageValue(message as KafkaMessage);
    expect(Date.parse(value.receivedAt)).not.toBeNaN();
    expect(value.transaction).toEqual({
      step: 1,
      type: "TRANSFER",
      amount: "19169204.93",
      nameOrig: account("0"),
      oldbalanceOrg: "170136",
      newbalanceOrig: "160296.36",
      nameDest: "M1979787155",
      oldbalanceDest: "0",
      newbalanceDest: "10000000",
      isFraud: true,
      isFlaggedFraud: false,
    });
  });

  it("is stored as Completed by the consumer and then shows in GET /transactions/{id} and GET /reports", async () => {
    const response = await post("/transaction", paysim({ nameOrig: account("1"), amount: 181.0, type: "PAYMENT", isFraud: 0 }));
    expect(response.status).toBe(202);
    const id = response.body.id as string;

    let stored: { status: number; body: JsonBody } = { status: 0, body: {} };
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      stored = await get(`/transactions/${id}`);
      if (stored.status === 200) break;
      expect(stored.status).toBe(404);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({ id, status: "Completed", amount: "181.00", nameOrig: account("1"), kafka: { topic } });

    const report = await get(`/reports?nameOrig=${account("1")}`);
    expect(report.status).toBe(200);
    expect(report.body.items).toEqual([stored.body]);
  });

  it("stores 1,000 concurrent posts exactly once each", async () => {
    const total = 1_000;
    const ids: string[] = [];
    let next = 0;
    // 50 clients in parallel, like a small load test; every answer must be a 202.
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < total) {
          const index = next++;
          const response = await post("/transaction", paysim({ nameOrig: account("M"), step: index, amount: `${index}.01` }));
          expect(response.status).toBe(202);
          ids.push(response.body.id as string);
        }
      }),
    );
    expect(new Set(ids).size).toBe(total);

    const storedRows = async () =>
      getDb()
        .select({ id: transactions.id, step: transactions.step, amount: transactions.amount, status: transactions.status })
        .from(transactions)
        .where(eq(transactions.nameOrig, account("M")));
    const deadline = Date.now() + 60_000;
    let stored = await storedRows();
    while (stored.length < total && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      stored = await storedRows();
    }
    expect(stored).toHaveLength(total);
    expect(new Set(stored.map((row) => row.id))).toEqual(new Set(ids));
    for (const row of stored) {
      expect(row.status).toBe("Completed");
      expect(row.amount).toBe(`${row.step}.01`);
    }
  });

  const invalidBodies: [string, unknown, { field: string; reason: RegExp }][] = [
    ["a missing field", { ...paysim(), nameDest: undefined }, { field: "nameDest", reason: /required/ }],
    ["an unknown field", paysim({ note: "hi" }), { field: "note", reason: /unknown field/ }],
    ["a negative amount", paysim({ amount: "-1.00" }), { field: "amount", reason: /negative/ }],
    ["a third decimal place", paysim({ amount: 10.005 }), { field: "amount", reason: /decimal places/ }],
    ["text as an amount", paysim({ amount: "ten" }), { field: "amount", reason: /not a decimal number/ }],
    ["a boolean as an amount", paysim({ oldbalanceOrg: true }), { field: "oldbalanceOrg", reason: /number or string/ }],
    ["an unknown type", paysim({ type: "REFUND" }), { field: "type", reason: /CASH_IN/ }],
    ["a fractional step", paysim({ step: 1.5 }), { field: "step", reason: /int/i }],
    ["a bad account id", paysim({ nameOrig: "C 1" }), { field: "nameOrig", reason: /letters, digits/ }],
    ["an array instead of an object", [paysim()], { field: "$", reason: /expected object/ }],
  ];

  it.each(invalidBodies)("rejects %s with 422 naming the field and why, producing nothing", async (_case, body, expected) => {
    const before = await producedCount();
    const response = await post("/transaction", body);
    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ status: 422, error: "Unprocessable Content", message: expect.any(String) });
    expect(response.body.issues).toContainEqual({ field: expected.field, reason: expect.stringMatching(expected.reason) });
    expect(await producedCount()).toBe(before);
  });

  it("reports every bad field of one body, not just the first", async () => {
    const response = await post("/transaction", paysim({ amount: "x", type: "X", extra: 1 }));
    expect(response.status).toBe(422);
    expect(response.body.issues.map((issue: { field: string }) => issue.field).sort()).toEqual(["amount", "extra", "type"]);
  });

  it("answers 400 for a body that is not JSON", async () => {
    const response = await post("/transaction", '{"step": 1,');
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ status: 400, error: "Bad Request", message: expect.stringMatching(/not valid JSON/) });
  });

  it("answers 415 for a content type other than JSON", async () => {
    const response = await post("/transaction", JSON.stringify(paysim()), { "content-type": "text/csv" });
    expect(response.status).toBe(415);
    expect(response.body).toMatchObject({
      status: 415,
      error: "Unsupported Media Type",
      message: expect.stringMatching(/text\/csv/),
    });
  });

  it("answers 413 for a body over 64 KiB before looking inside it", async () => {
    const response = await post("/transaction", JSON.stringify(paysim({ nameDest: "M".repeat(70_000) })));
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ status: 413, message: expect.stringMatching(/limit is 65536/) });
  });
});

describe("POST /transactions (bulk)", () => {
  it("answers 202 with the ids in request order, all produced in that order", async () => {
    const items = [1, 2, 3].map((step) => paysim({ nameOrig: account("2"), step, amount: `${step}.05` }));
    const response = await post("/transactions", items);
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ status: "Accepted", count: 3 });
    const ids = response.body.ids as string[];
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);

    const messages = await readTopic((seen) => ids.every((id) => seen.some((message) => messageValue(message).id === id)));
    // One key, one partition: the log holds them in request order.
    const ours = messages.filter((message) => ids.includes(messageValue(message).id));
    expect(ours.map((message) => messageValue(message).id)).toEqual(ids);
    expect(ours.map((message) => messageValue(message).transaction.amount)).toEqual(["1.05", "2.05", "3.05"]);
  });

  it("rejects the whole batch with 422 naming the bad item's index when one item is bad, producing nothing", async () => {
    const before = await producedCount();
    const items = [paysim(), paysim({ amount: "1.001" }), paysim(), paysim({ nameDest: undefined, bogus: true })];
    const response = await post("/transactions", items);
    expect(response.status).toBe(422);
    expect(response.body.issues).toHaveLength(3);
    expect(response.body.issues).toEqual(
      expect.arrayContaining([
        { field: "[1].amount", reason: expect.stringMatching(/decimal places/) },
        { field: "[3].nameDest", reason: "required" },
        { field: "[3].bogus", reason: "unknown field" },
      ]),
    );
    expect(await producedCount()).toBe(before);
  });

  it("rejects more items than the configured maximum, an empty array and a non-array", async () => {
    const before = await producedCount();
    const tooMany = await post(
      "/transactions",
      Array.from({ length: MAX_BULK + 1 }, () => paysim()),
    );
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.issues).toEqual([
      { field: "$", reason: `at most ${MAX_BULK} transactions per request (got ${MAX_BULK + 1})` },
    ]);
    expect((await post("/transactions", [])).status).toBe(422);
    const notArray = await post("/transactions", paysim());
    expect(notArray.status).toBe(422);
    expect(notArray.body.issues).toEqual([{ field: "$", reason: "expected a JSON array of transactions" }]);
    expect(await producedCount()).toBe(before);
  });

  it("answers 415 and 400 like the single route", async () => {
    expect((await post("/transactions", "[]", { "content-type": "text/plain" })).status).toBe(415);
    expect((await post("/transactions", "[{")).status).toBe(400);
  });
});

describe("GET /reports and GET /transactions/{id}", () => {
  const base = Date.parse("2031-01-01T00:00:00.000Z") + randomInt(0, 1_000_000) * 1000;
  const rows: NewTransactionRow[] = [];
  // 7 rows of one account: two share a receivedAt (the id breaks the tie), amounts floats cannot hold.
  const fixtures = [
    { offsetMs: 0, type: "PAYMENT", status: "Historical", isFraud: false, amount: "0.10" },
    { offsetMs: 1_000, type: "TRANSFER", status: "Completed", isFraud: true, amount: "9999999999999999.99" },
    { offsetMs: 2_000, type: "CASH_OUT", status: "Completed", isFraud: true, amount: "19169204.93" },
    { offsetMs: 2_000, type: "PAYMENT", status: "Historical", isFraud: false, amount: "1234567890123456.78" },
    { offsetMs: 3_000, type: "TRANSFER", status: "Completed", isFraud: false, amount: "0.30" },
    { offsetMs: 4_000, type: "DEBIT", status: "Historical", isFraud: false, amount: "181.00" },
    { offsetMs: 5_000, type: "CASH_IN", status: "Completed", isFraud: false, amount: "5.55" },
  ] as const;

  beforeAll(async () => {
    for (const [index, fixture] of fixtures.entries()) {
      rows.push({
        id: uuidv7(),
        step: index + 1,
        type: fixture.type,
        amount: fixture.amount,
        nameOrig: account("R"),
        oldbalanceOrg: "100.00",
        newbalanceOrig: "0.00",
        nameDest: "M1",
        oldbalanceDest: "0.00",
        newbalanceDest: "0.00",
        isFraud: fixture.isFraud,
        isFlaggedFraud: false,
        status: fixture.status,
        receivedAt: new Date(base + fixture.offsetMs),
        kafkaTopic: fixture.status === "Completed" ? topic : null,
        kafkaPartition: fixture.status === "Completed" ? 0 : null,
        kafkaOffset: fixture.status === "Completed" ? index : null,
      });
    }
    await insertTransactions(getDb(), rows);
  });

  /** Newest first: receivedAt desc, then id desc. */
  const expectedOrder = () =>
    [...rows]
      .sort(
        (a, b) =>
          (b.receivedAt as Date).getTime() - (a.receivedAt as Date).getTime() || ((b.id as string) < (a.id as string) ? -1 : 1),
      )
      .map((row) => row.id);

  it("pages newest first with an opaque cursor until nextCursor is null", async () => {
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/reports?nameOrig=${account("R")}&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const page = await get(query);
      expect(page.status).toBe(200);
      pageSizes.push(page.body.items.length);
      seen.push(...page.body.items.map((item: { id: string }) => item.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(pageSizes).toEqual([3, 3, 1]);
    expect(seen).toEqual(expectedOrder());
  });

  it("returns amounts as exact decimal strings and the row as stored", async () => {
    const page = await get(`/reports?nameOrig=${account("R")}&limit=1000`);
    const byId = new Map(page.body.items.map((item: { id: string }) => [item.id, item]));
    for (const [index, row] of rows.entries()) {
      expect(byId.get(row.id as string)).toEqual({
        id: row.id,
        step: index + 1,
        type: row.type,
        amount: row.amount,
        nameOrig: account("R"),
        oldbalanceOrg: "100.00",
        newbalanceOrig: "0.00",
        nameDest: "M1",
        oldbalanceDest: "0.00",
        newbalanceDest: "0.00",
        isFraud: row.isFraud,
        isFlaggedFraud: false,
        status: row.status,
        receivedAt: (row.receivedAt as Date).toISOString(),
        persistedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        kafka: row.kafkaTopic ? { topic, partition: 0, offset: index } : null,
      });
    }
  });

  it.each([
    ["status=Historical", (row: NewTransactionRow) => row.status === "Historical"],
    ["type=TRANSFER", (row: NewTransactionRow) => row.type === "TRANSFER"],
    ["isFraud=true", (row: NewTransactionRow) => row.isFraud === true],
    ["isFraud=false&status=Completed", (row: NewTransactionRow) => !row.isFraud && row.status === "Completed"],
  ])("filters by %s", async (filter, keep) => {
    const page = await get(`/reports?nameOrig=${account("R")}&${filter}`);
    expect(page.status).toBe(200);
    const wanted = expectedOrder().filter((id) => keep(rows.find((row) => row.id === id) as NewTransactionRow));
    expect(wanted.length).toBeGreaterThan(0);
    expect(page.body.items.map((item: { id: string }) => item.id)).toEqual(wanted);
    expect(page.body.nextCursor).toBeNull();
  });

  it("returns 100 items by default and at most 1000", async () => {
    const many: NewTransactionRow[] = Array.from({ length: 101 }, (_, index) => ({
      ...(rows[0] as NewTransactionRow),
      id: uuidv7(),
      nameOrig: account("D"),
      receivedAt: new Date(base + index),
    }));
    await insertTransactions(getDb(), many);
    const page = await get(`/reports?nameOrig=${account("D")}`);
    expect(page.body.items).toHaveLength(100);
    expect(page.body.nextCursor).toEqual(expect.any(String));
    const rest = await get(`/reports?nameOrig=${account("D")}&cursor=${encodeURIComponent(page.body.nextCursor)}`);
    expect(rest.body.items).toHaveLength(1);
    expect(rest.body.nextCursor).toBeNull();
  });

  it.each([
    ["limit=0", "limit"],
    ["limit=1001", "limit"],
    ["limit=ten", "limit"],
    ["status=Pending", "status"],
    ["type=REFUND", "type"],
    ["isFraud=yes", "isFraud"],
    ["nameOrig=C%201", "nameOrig"],
    ["cursor=not-a-cursor", "cursor"],
    ["isfraud=true", "isfraud"],
  ])("answers 400 naming the parameter for %s", async (query, field) => {
    const response = await get(`/reports?${query}`);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ status: 400, error: "Bad Request" });
    expect(response.body.issues).toEqual([{ field, reason: expect.any(String) }]);
  });

  it("GET /transactions/{id} answers the stored row like a reports item, 404 while unknown, 400 for a malformed id", async () => {
    const row = rows[2] as NewTransactionRow;
    const one = await get(`/transactions/${row.id}`);
    expect(one.status).toBe(200);
    const page = await get(`/reports?nameOrig=${account("R")}&limit=1000`);
    expect(one.body).toEqual(page.body.items.find((item: { id: string }) => item.id === row.id));

    const unknown = await get(`/transactions/${uuidv7()}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ status: 404, error: "Not Found" });

    const malformed = await get("/transactions/12345");
    expect(malformed.status).toBe(400);
    expect(malformed.body.issues).toEqual([{ field: "id", reason: "expected a UUID" }]);
  });
});

describe("with Kafka unreachable", () => {
  let downServer: OfflineServer;

  beforeAll(async () => {
    // Nothing listens on a port we just found free.
    const closedPort = await freePort();
    downServer = await startOffline({
      env: { KAFKA_BROKERS: `127.0.0.1:${closedPort}`, TRANSACTIONS_TOPIC: topic, OFFLINE_KAFKA_ENABLED: "false" },
    });
  });

  afterAll(async () => {
    await downServer?.stop();
  });

  it.each([
    ["/transaction", paysim()],
    ["/transactions", [paysim(), paysim()]],
  ])("POST %s answers 503 with Retry-After within 5 s, never 202", async (path, body) => {
    const started = performance.now();
    const response = await fetch(`${downServer.baseUrl}${path}`, {
      method: "POST",
      headers: downServer.headers({ "content-type": "application/json" }),
      body: JSON.stringify(body),
    });
    const elapsedMs = performance.now() - started;
    expect(response.status).toBe(503);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    const problem = (await response.json()) as Record<string, unknown>;
    expect(problem).toEqual({ status: 503, error: "Service Unavailable", message: expect.stringMatching(/unavailable/) });
    expect(elapsedMs).toBeLessThan(5_000);
  });
});
