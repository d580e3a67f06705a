import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { MSKEvent } from "aws-lambda";
import { drizzle } from "drizzle-orm/node-postgres";
import type { KafkaMessage } from "kafkajs";
import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import { afterAll, describe, expect, it } from "vitest";
import { handler } from "../../handlers/consume.js";
import { config } from "../../lib/config.js";
import { persistMskEvent } from "../../lib/consumer/persist.js";
import { closeDb, type Database, getPool } from "../../lib/db/client.js";
import * as schema from "../../lib/db/schema.js";
import { disconnectProducer } from "../../lib/kafka/producer.js";
import { readTopic, testKafka, uniqueName } from "../support/kafka.js";

const ROOT = resolve(import.meta.dirname, "../..");
const FIXTURE_PATH = resolve(ROOT, "test/fixtures/msk-event.json");
const fixture = JSON.parse(readFileSync(FIXTURE_PATH, "utf8")) as MSKEvent;

const b64 = (value: string | Buffer) => Buffer.from(value).toString("base64");

/** The fixture moved to a topic of its own, with fresh ids, so tests never share rows. */
function freshFixture(topic = uniqueName("test.consume")): { event: MSKEvent; ids: string[]; topic: string } {
  const event = structuredClone(fixture);
  const ids: string[] = [];
  const records: MSKEvent["records"] = {};
  for (const list of Object.values(event.records)) {
    for (const record of list) {
      const message = JSON.parse(Buffer.from(record.value, "base64").toString("utf8"));
      message.id = uuidv7();
      ids.push(message.id);
      const moved = { ...record, topic, value: b64(JSON.stringify(message)) };
      records[`${topic}-${record.partition}`] ??= [];
      records[`${topic}-${record.partition}`]?.push(moved);
    }
  }
  return { event: { ...event, records }, ids, topic };
}

async function rowsOf(ids: string[]) {
  const { rows } = await getPool().query(
    `select id, status, amount::text, kafka_topic, kafka_partition, kafka_offset, received_at, persisted_at
       from transactions where id = any($1::uuid[]) order by kafka_partition, kafka_offset`,
    [ids],
  );
  return rows;
}

afterAll(async () => {
  await disconnectProducer();
  await closeDb();
});

describe("consume handler", () => {
  it("stores every record of the MSK event as Completed with topic, partition, offset and both times", async () => {
    const { event, ids, topic } = freshFixture();
    const summary = await handler(event, {} as never, () => {});
    expect(summary).toMatchObject({ count: 3, valid: 3, inserted: 3, duplicates: 0, deadLettered: 0 });
    expect(summary?.partitions).toEqual({
      [`${topic}-0`]: { count: 2, firstOffset: 15, lastOffset: 16 },
      [`${topic}-1`]: { count: 1, firstOffset: 7, lastOffset: 7 },
    });
    const rows = await rowsOf(ids);
    expect(rows.map((row) => [row.status, row.amount, row.kafka_topic, row.kafka_partition, Number(row.kafka_offset)])).toEqual([
      ["Completed", "9839.64", topic, 0, 15],
      ["Completed", "181.00", topic, 0, 16],
      ["Completed", "229133.94", topic, 1, 7],
    ]);
    expect(rows[0].received_at.toISOString()).toBe("2018-12-17T22:10:50.987Z");
    expect(Date.now() - rows[0].persisted_at.getTime()).toBeLessThan(60_000);
  });

  it("stores nothing twice when the same batch is delivered again", async () => {
    const { event, ids } = freshFixture();
    await persistMskEvent(event);
    const again = await persistMskEvent(structuredClone(event));
    expect(again).toMatchObject({ count: 3, inserted: 0, duplicates: 3 });
    const { rows } = await getPool().query("select count(*)::int as n from transactions where id = any($1::uuid[])", [ids]);
    expect(rows[0].n).toBe(3);
  });

  it("dead-letters poison records (table + topic with reason headers) and stores the rest of the batch", async () => {
    const { event, ids, topic } = freshFixture();
    const good = event.records[`${topic}-0`] ?? [];
    const template = good[0];
    if (!template) throw new Error("fixture has no record");
    const poison = [
      { ...template, offset: 100, value: b64("{not json") },
      { ...template, offset: 101, value: b64(JSON.stringify({ id: "not-a-uuid", receivedAt: "x", transaction: {} })) },
      { ...template, offset: 102, value: b64(Buffer.from([0xff, 0xfe])) },
    ];
    good.push(...poison);

    const summary = await persistMskEvent(event);
    expect(summary).toMatchObject({ count: 6, valid: 3, inserted: 3, deadLettered: 3 });
    expect((await rowsOf(ids)).length).toBe(3);
    const { rows } = await getPool().query(
      `select "offset"::int, reason, detail, value from dead_letters where topic = $1 order by "offset"`,
      [topic],
    );
    expect(rows.map((row) => [row.offset, row.reason])).toEqual([
      [100, "undecodable"],
      [101, "invalid"],
      [102, "undecodable"],
    ]);
    expect(rows[0].value).toBe(b64("{not json"));
    expect(rows[1].detail).toMatch(/id:/);

    // Redelivery adds no second dead letter.
    await persistMskEvent(event);
    const { rows: after } = await getPool().query("select count(*)::int as n from dead_letters where topic = $1", [topic]);
    expect(after[0].n).toBe(3);

    // The shared dead-letter topic holds other tests' records too: count only this fixture's source topic.
    const fromThisTopic = (message: KafkaMessage) => message.headers?.["source-topic"]?.toString() === topic;
    const read = await readTopic(
      testKafka(),
      config.DEAD_LETTER_TOPIC,
      // Each poison record at least once per delivery (two deliveries above).
      (messages) => messages.filter(fromThisTopic).length >= 6,
    );
    const deadLettered = read.filter(fromThisTopic).map(({ headers = {} }) => ({
      offset: String(headers["source-offset"]),
      reason: String(headers["dead-letter-reason"]),
    }));
    expect(new Set(deadLettered.map((entry) => `${entry.offset}:${entry.reason}`))).toEqual(
      new Set(["100:undecodable", "101:invalid", "102:undecodable"]),
    );
  });

  it("throws on a database error (not poison): nothing is dead-lettered, the caller retries", async () => {
    const { event, topic } = freshFixture();
    const deadPool = new pg.Pool({ connectionString: "postgres://postgres@127.0.0.1:1/none", connectionTimeoutMillis: 500 });
    deadPool.on("error", () => {});
    try {
      await expect(persistMskEvent(event, { db: drizzle(deadPool, { schema }) as unknown as Database })).rejects.toThrow();
    } finally {
      await deadPool.end();
    }
    const { rows } = await getPool().query("select count(*)::int as n from dead_letters where topic = $1", [topic]);
    expect(rows[0].n).toBe(0);
  });
});

describe("npx sls invoke local -f consume --path test/fixtures/msk-event.json", () => {
  it("stores the fixture's records in the database", async () => {
    const ids = Object.values(fixture.records)
      .flat()
      .map((record) => JSON.parse(Buffer.from(record.value, "base64").toString("utf8")).id as string);
    await getPool().query("delete from transactions where id = any($1::uuid[])", [ids]);

    const workFolder = await mkdtemp(join(tmpdir(), "txlog-invoke-"));
    const output = await new Promise<{ code: number | null; text: string }>((done) => {
      const child = spawn("npx", ["sls", "invoke", "local", "-f", "consume", "--path", FIXTURE_PATH], {
        cwd: ROOT,
        env: { ...process.env, ESBUILD_WORK_FOLDER: workFolder },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let text = "";
      child.stdout.on("data", (chunk) => {
        text += chunk;
      });
      child.stderr.on("data", (chunk) => {
        text += chunk;
      });
      child.on("close", (code) => done({ code, text }));
    });
    expect(output.code, output.text).toBe(0);
    expect(output.text).toMatch(/"inserted": 3/);
    const rows = await rowsOf(ids);
    expect(rows.map((row) => [row.id, row.status, row.kafka_topic, row.kafka_partition, Number(row.kafka_offset)])).toEqual([
      ["01890a5d-ac96-774b-bcce-b302099a8057", "Completed", "transactions", 0, 15],
      ["01890a5d-ac99-7a1c-8d7e-2f44b1c0e6a1", "Completed", "transactions", 0, 16],
      ["01890a5d-aca5-7f3e-9b51-6c2d8e4f1a70", "Completed", "transactions", 1, 7],
    ]);
  }, 180_000);
});
