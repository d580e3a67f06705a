import { randomInt, randomUUID } from "node:crypto";
import net from "node:net";
import { inArray } from "drizzle-orm";
import type { Admin, KafkaMessage } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDb, getDb } from "../../lib/db/client.js";
import { transactions } from "../../lib/db/schema.js";
import { insertTransactions } from "../../lib/db/transactions.js";
import { apiKeyScope, fingerprintOf, idForKey } from "../../lib/idempotency.js";
import { parseTransaction, parseTransactions } from "../../lib/ingest.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { disconnectProducer } from "../../lib/kafka/producer.js";
import { readAllMessages, testKafka, uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

/**
 * Idempotency-Key on POST /transaction and /transactions against the real `serverless offline start`
 * (with its Kafka trigger), the real broker and the test database: what the API answers, what Kafka
 * then holds, and what the consumer stores.
 */

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked with expect(), field by field.
type JsonBody = Record<string, any>;

const topic = uniqueName("test.idempotency");
const consumerGroup = uniqueName("test.idempotency-consume");
const kafka = testKafka();
let admin: Admin;
let server: OfflineServer;

const runTag = String(randomInt(1e8, 1e9));
const account = (suffix: string) => `C${runTag}${suffix}`;
const accounts = ["S", "B", "C", "D", "Q", "E"].map(account);
const newKey = () => `test-${randomUUID()}`;
/** The id the server derives for item `index` of a request with `key` and the server's API key. */
const idOf = (key: string, index: number) => idForKey(key, index, apiKeyScope(server.apiKey));

function paysim(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    step: 7,
    type: "TRANSFER",
    amount: "1.916920493E7",
    nameOrig: account("S"),
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

async function post(path: string, body: unknown, key?: string, to: OfflineServer = server) {
  const response = await fetch(`${to.baseUrl}${path}`, {
    method: "POST",
    headers: to.headers({ "content-type": "application/json", ...(key === undefined ? {} : { "Idempotency-Key": key }) }),
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as JsonBody };
}

/**
 * A POST written byte for byte on a socket: fetch and node:http refuse (or merge) repeated, non-ASCII
 * and control-character headers before they leave the client. Body null when the answer is not JSON.
 */
function rawPost(
  path: string,
  body: string,
  headerLines: [string, string][],
): Promise<{ status: number; body: JsonBody | null }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.httpPort, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const rest = text.slice(text.indexOf("\r\n\r\n") + 4);
      let parsed: JsonBody | null = null;
      try {
        parsed = JSON.parse(Buffer.from(rest, "latin1").toString("utf8")) as JsonBody;
      } catch {
        parsed = null;
      }
      resolve({ status, body: parsed });
    });
    const head = [
      `POST ${path} HTTP/1.1`,
      "Host: 127.0.0.1",
      "Content-Type: application/json",
      `x-api-key: ${server.apiKey}`,
      ...headerLines.map(([name, value]) => `${name}: ${value}`),
      `Content-Length: ${Buffer.byteLength(body)}`,
      "Connection: close",
      "",
      "",
    ].join("\r\n");
    // Not end(): a half-closed socket may be closed by the server before it answers; it closes after answering.
    socket.write(Buffer.concat([Buffer.from(head, "latin1"), Buffer.from(body)]));
  });
}

/** Every message on the topic so far (end offsets tell when all are read). */
const topicMessages = () => readAllMessages(kafka, topic);

const messageValue = (message: KafkaMessage) => JSON.parse(message.value?.toString("utf8") ?? "null") as JsonBody;

async function messagesWithIds(ids: string[]): Promise<JsonBody[]> {
  return (await topicMessages()).map(messageValue).filter((value) => ids.includes(value.id));
}

/** The stored rows of `ids`, once `count` of them are stored (the consumer runs in the server). */
async function storedRows(ids: string[], count = ids.length, timeoutMs = 30_000) {
  const read = () =>
    getDb()
      .select({ id: transactions.id, amount: transactions.amount, fingerprint: transactions.idempotencyFingerprint })
      .from(transactions)
      .where(inArray(transactions.id, ids));
  const deadline = Date.now() + timeoutMs;
  let rows = await read();
  while (rows.length < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    rows = await read();
  }
  return rows;
}

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  await ensureTopics([topic]);
  server = await startOffline({ env: { TRANSACTIONS_TOPIC: topic, CONSUMER_GROUP_ID: consumerGroup } });
});

afterAll(async () => {
  await server?.stop();
  await getDb().delete(transactions).where(inArray(transactions.nameOrig, accounts));
  await admin?.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin?.disconnect();
  await disconnectProducer();
  await closeDb();
});

describe("POST /transaction with Idempotency-Key", () => {
  it("answers the same id for the same key and body sent 5 times, produces once and stores one row", async () => {
    const key = newKey();
    // The same transaction written differently each time: the fingerprint is of the validated body.
    const bodies = [
      paysim(),
      paysim({ amount: 19169204.93 }),
      paysim({ amount: "19169204.930" }),
      paysim({ isFlaggedFraud: false }),
      paysim(),
    ];
    const answers = [];
    for (const body of bodies) answers.push(await post("/transaction", body, key));

    const id = idOf(key, 0);
    for (const [index, answer] of answers.entries()) {
      expect(answer.status).toBe(202);
      expect(answer.body).toEqual({ id, status: "Accepted" });
      expect(answer.headers.get("location")).toBe(`/transactions/${id}`);
      expect(answer.headers.get("idempotent-replayed")).toBe(index === 0 ? null : "true");
    }

    const fingerprint = fingerprintOf("transaction", [parseTransaction(paysim())]);
    const produced = await messagesWithIds([id]);
    expect(produced).toHaveLength(1);
    expect(produced[0]).toMatchObject({ id, idempotencyKey: key, fingerprint, transaction: { amount: "19169204.93" } });

    const rows = await storedRows([id]);
    expect(rows).toEqual([{ id, amount: "19169204.93", fingerprint }]);

    // Once stored, a retry is still the same answer, and still produces nothing.
    const again = await post("/transaction", paysim(), key);
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(id);
    expect(await messagesWithIds([id])).toHaveLength(1);
    expect(await storedRows([id])).toHaveLength(1);
  });

  it("answers 422 for the same key with a different body, producing nothing", async () => {
    const key = newKey();
    const first = await post("/transaction", paysim({ nameOrig: account("C"), amount: "10.00" }), key);
    expect(first.status).toBe(202);
    const reused = await post("/transaction", paysim({ nameOrig: account("C"), amount: "10.01" }), key);
    expect(reused.status).toBe(422);
    expect(reused.body).toMatchObject({
      status: 422,
      error: "Unprocessable Content",
      message: expect.stringMatching(/different/),
    });
    expect(reused.body.issues).toEqual([{ field: "Idempotency-Key", reason: "already used with a different request body" }]);

    const id = idOf(key, 0);
    const produced = await messagesWithIds([id]);
    expect(produced.map((value) => value.transaction.amount)).toEqual(["10"]);
    expect((await storedRows([id])).map((row) => row.amount)).toEqual(["10.00"]);
  });

  it("treats the quoted structured-field form and the bare form as the same key", async () => {
    const key = newKey();
    const bare = await post("/transaction", paysim({ nameOrig: account("Q") }), key);
    const quoted = await post("/transaction", paysim({ nameOrig: account("Q") }), `"${key}"`);
    expect(bare.status).toBe(202);
    expect(quoted.status).toBe(202);
    expect(quoted.body.id).toBe(bare.body.id);
    expect(quoted.headers.get("idempotent-replayed")).toBe("true");
  });

  it("answers concurrent retries with the same id (or 409 while the first is in flight) and produces once", async () => {
    const key = newKey();
    const body = paysim({ nameOrig: account("C"), step: 99 });
    const answers = await Promise.all(Array.from({ length: 10 }, () => post("/transaction", body, key)));
    const id = idOf(key, 0);
    expect(answers.filter((answer) => answer.status === 202).length).toBeGreaterThanOrEqual(1);
    for (const answer of answers) {
      expect([202, 409]).toContain(answer.status);
      if (answer.status === 202) expect(answer.body.id).toBe(id);
      else expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    expect(await messagesWithIds([id])).toHaveLength(1);
    expect(await storedRows([id])).toHaveLength(1);
  });

  const malformed: [string, [string, string][], string | null][] = [
    ["an empty key", [["Idempotency-Key", ""]], "must not be empty"],
    ["a key of spaces", [["Idempotency-Key", "   "]], "must not be empty"],
    ["a key over 255 characters", [["Idempotency-Key", "k".repeat(256)]], "at most 255 characters (got 256)"],
    ["a non-ASCII key", [["Idempotency-Key", "cl\u00e9"]], "only printable ASCII characters (0x20-0x7E)"],
    ["an unterminated quoted key", [["Idempotency-Key", '"abc']], "an unterminated quoted string"],
    [
      "a bad escape in a quoted key",
      [["Idempotency-Key", '"a\\b"']],
      expect.stringMatching(/may only escape/) as unknown as string,
    ],
    [
      "the header twice",
      [
        ["Idempotency-Key", "one"],
        ["Idempotency-Key", "two"],
      ],
      "send the header once",
    ],
    // Node's HTTP parser itself refuses control characters in a header with a bare 400, before any handler.
    ["a control character", [["Idempotency-Key", "a\u0001b"]], null],
  ];

  it.each(malformed)("answers 400 for %s, producing nothing", async (_case, headerLines, reason) => {
    const before = (await topicMessages()).length;
    for (const path of ["/transaction", "/transactions"]) {
      const body = JSON.stringify(path === "/transaction" ? paysim() : [paysim()]);
      const response = await rawPost(path, body, headerLines);
      expect(response.status).toBe(400);
      if (reason !== null) {
        expect(response.body).toMatchObject({ status: 400, error: "Bad Request", message: "invalid Idempotency-Key header" });
        expect(response.body?.issues).toEqual([{ field: "Idempotency-Key", reason }]);
      }
    }
    expect((await topicMessages()).length).toBe(before);
  });

  it("accepts a 255-character key", async () => {
    const key = `${newKey()}-`.padEnd(255, "x");
    const response = await post("/transaction", paysim({ nameOrig: account("Q") }), key);
    expect(response.status).toBe(202);
    expect(response.body.id).toBe(idOf(key, 0));
  });
});

describe("the stored row decides when this process has not seen the key", () => {
  // Rows as a previous process (or another container) got them stored: the API reads them by derived id.
  async function storeAsIf(key: string, body: Record<string, unknown>, fingerprint: string) {
    const transaction = parseTransaction(body);
    await insertTransactions(getDb(), [
      {
        id: idOf(key, 0),
        ...transaction,
        status: "Completed",
        receivedAt: new Date(),
        kafkaTopic: topic,
        kafkaPartition: 0,
        kafkaOffset: 0,
        idempotencyFingerprint: fingerprint,
      },
    ]);
  }

  it("answers 422 when the stored row has another fingerprint", async () => {
    const key = newKey();
    const stored = paysim({ nameOrig: account("D"), amount: "1.00" });
    await storeAsIf(key, stored, fingerprintOf("transaction", [parseTransaction(stored)]));
    const response = await post("/transaction", paysim({ nameOrig: account("D"), amount: "2.00" }), key);
    expect(response.status).toBe(422);
    expect(await messagesWithIds([idOf(key, 0)])).toHaveLength(0);
  });

  it("replays 202 without producing when the stored row has this fingerprint", async () => {
    const key = newKey();
    const body = paysim({ nameOrig: account("D"), amount: "3.00" });
    await storeAsIf(key, body, fingerprintOf("transaction", [parseTransaction(body)]));
    const response = await post("/transaction", body, key);
    expect(response.status).toBe(202);
    expect(response.body.id).toBe(idOf(key, 0));
    expect(response.headers.get("idempotent-replayed")).toBe("true");
    expect(await messagesWithIds([idOf(key, 0)])).toHaveLength(0);
  });
});

describe("POST /transactions with Idempotency-Key", () => {
  it("derives one id per item, replays them for the same body and stores each item once", async () => {
    const key = newKey();
    const items = [1, 2, 3].map((step) => paysim({ nameOrig: account("B"), step, amount: `${step}.25` }));
    const answers = [];
    for (let attempt = 0; attempt < 5; attempt++) answers.push(await post("/transactions", items, key));
    const ids = [0, 1, 2].map((index) => idOf(key, index));
    for (const [index, answer] of answers.entries()) {
      expect(answer.status).toBe(202);
      expect(answer.body).toEqual({ status: "Accepted", count: 3, ids });
      expect(answer.headers.get("idempotent-replayed")).toBe(index === 0 ? null : "true");
    }
    const fingerprint = fingerprintOf("transactions", parseTransactions(items));
    const produced = await messagesWithIds(ids);
    expect(produced.map((value) => value.id)).toEqual(ids);
    expect(produced.every((value) => value.fingerprint === fingerprint)).toBe(true);
    const rows = await storedRows(ids);
    expect(rows.map((row) => row.id).sort()).toEqual([...ids].sort());
    expect(new Set(rows.map((row) => row.fingerprint))).toEqual(new Set([fingerprint]));
  });

  it("answers 422 for the key with another batch, and for a bulk key reused on the single route", async () => {
    const key = newKey();
    const items = [paysim({ nameOrig: account("B"), amount: "5.00" }), paysim({ nameOrig: account("B"), amount: "6.00" })];
    expect((await post("/transactions", items, key)).status).toBe(202);
    const reordered = await post("/transactions", [items[1], items[0]], key);
    expect(reordered.status).toBe(422);
    const shorter = await post("/transactions", [items[0]], key);
    expect(shorter.status).toBe(422);
    const single = await post("/transaction", items[0], key);
    expect(single.status).toBe(422);
    expect(await messagesWithIds([0, 1].map((index) => idOf(key, index)))).toHaveLength(2);
  });
});

describe("Idempotency-Keys are scoped per API key", () => {
  // A second API of the same system with another API key (serverless.yml has one key per server): same
  // topic and database; the first server's Kafka trigger stores what both produce.
  const otherApiKey = `test-other-client-${randomUUID()}`;
  let other: OfflineServer;
  beforeAll(async () => {
    other = await startOffline({
      env: { TRANSACTIONS_TOPIC: topic, CONSUMER_GROUP_ID: consumerGroup, OFFLINE_KAFKA_ENABLED: "false", API_KEY: otherApiKey },
    });
  });
  afterAll(async () => {
    await other?.stop();
  });

  it("accepts the same key with different bodies from two API keys: both 202, both stored", async () => {
    const key = newKey();
    const mine = paysim({ nameOrig: account("E"), amount: "11.00" });
    const theirs = paysim({ nameOrig: account("E"), amount: "12.00" });
    const first = await post("/transaction", mine, key);
    const second = await post("/transaction", theirs, key, other);
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.headers.get("idempotent-replayed")).toBeNull();
    expect(first.body.id).toBe(idOf(key, 0));
    expect(second.body.id).toBe(idForKey(key, 0, apiKeyScope(otherApiKey)));
    expect(second.body.id).not.toBe(first.body.id);

    const rows = await storedRows([first.body.id, second.body.id]);
    expect(new Map(rows.map((row) => [row.id, row.amount]))).toEqual(
      new Map([
        [first.body.id, "11.00"],
        [second.body.id, "12.00"],
      ]),
    );

    // Within each API key, as before: the same body replays, another body is a conflict.
    const replay = await post("/transaction", mine, key);
    expect(replay.status).toBe(202);
    expect(replay.body.id).toBe(first.body.id);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect((await post("/transaction", theirs, key)).status).toBe(422);
    expect((await post("/transaction", mine, key, other)).status).toBe(422);
  });

  it("never replays another API key's request, even with the same body", async () => {
    const key = newKey();
    const body = paysim({ nameOrig: account("E"), amount: "13.00" });
    const first = await post("/transaction", body, key);
    await storedRows([first.body.id]);
    const second = await post("/transaction", body, key, other);
    expect(second.status).toBe(202);
    expect(second.headers.get("idempotent-replayed")).toBeNull();
    expect(second.body.id).not.toBe(first.body.id);
    expect(await storedRows([first.body.id, second.body.id])).toHaveLength(2);
  });
});
