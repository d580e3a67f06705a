import type { Admin, Producer } from "kafkajs";
import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { paysimExamples, TransactionInput } from "../../lib/transaction.js";
import {
  committedTotal,
  deadLetterCount,
  endOffsetTotal,
  eventually,
  spawnWorker,
  stopWorker,
  storedCounts,
} from "../support/fault-infra.js";
import { recordFaultRow, tally } from "../support/fault-results.js";
import { readTopic, testKafka, uniqueName } from "../support/kafka.js";

const PARTITIONS = 3;
const ROUNDS = 100;
const kafka = testKafka();
const admin: Admin = kafka.admin();
const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
// global-setup points DATABASE_URL at the migrated test database.
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
const topic = uniqueName("test.fault-poison");
const deadLetterTopic = `${topic}.dead-letter`;
const group = uniqueName("test.fault-poison-group");

beforeAll(async () => {
  await Promise.all([admin.connect(), producer.connect()]);
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }] });
});

afterAll(async () => {
  await producer.disconnect();
  await admin.deleteTopics({ topics: [topic, deadLetterTopic] }).catch(() => {});
  await admin.disconnect();
  await pool.end();
});

function validValue(id: string): string {
  return JSON.stringify({
    id,
    receivedAt: new Date().toISOString(),
    transaction: TransactionInput.parse(paysimExamples.fraudTransfer),
  });
}

/** The three kinds of poison a producer can get past the broker (oversized ones it refuses itself). */
const POISON: { reason: string; value: () => Buffer | string }[] = [
  { reason: "undecodable", value: () => "{not json" },
  { reason: "undecodable", value: () => Buffer.from([0xff, 0xfe, 0x00, 0x7b]) },
  { reason: "invalid", value: () => JSON.stringify({ id: uuidv7(), receivedAt: "yesterday", transaction: { amount: "12.5x" } }) },
  { reason: "invalid", value: () => validValue("not-a-uuid") },
];

describe("fault: poison records in the stream", () => {
  it("dead-letters each poison record with its reason (topic headers and table), stores the rest, and every partition keeps flowing", async () => {
    const accepted: string[] = [];
    const poisonReasons = new Map<string, string>();
    // Each round: valid, poison, valid on every partition, so valid records follow poison everywhere.
    for (let round = 0; round < ROUNDS; round += 1) {
      const messages = Array.from({ length: PARTITIONS }, (_, partition) => {
        const poison = POISON[(round + partition) % POISON.length] as (typeof POISON)[number];
        const [first, second] = [uuidv7(), uuidv7()];
        accepted.push(first, second);
        return [
          { partition, key: `C${partition}`, value: validValue(first) },
          { partition, key: `C${partition}`, value: poison.value(), headers: { reason: poison.reason } },
          { partition, key: `C${partition}`, value: validValue(second) },
        ];
      }).flat();
      const metadata = await producer.send({ topic, messages, acks: -1 });
      // Base offset per partition: the poison one is base + 1.
      for (const { partition, baseOffset } of metadata) {
        const poison = POISON[(round + partition) % POISON.length] as (typeof POISON)[number];
        poisonReasons.set(`${partition}:${Number(baseOffset) + 1}`, poison.reason);
      }
    }
    const poisonCount = ROUNDS * PARTITIONS;
    expect(poisonReasons.size).toBe(poisonCount);

    const started = performance.now();
    const worker = spawnWorker({ topic, group, env: { DEAD_LETTER_TOPIC: deadLetterTopic } });
    try {
      const end = await endOffsetTotal(admin, topic);
      await eventually(
        "every offset committed",
        () => committedTotal(admin, group, topic),
        (n) => n === end,
        90_000,
      );
    } finally {
      expect(await stopWorker(worker)).toBe(0);
    }
    const drainMs = performance.now() - started;

    const { stored, lost, duplicated } = tally(accepted, await storedCounts(pool, topic));
    const { rows } = await pool.query<{ partition: number; offset: string; reason: string; detail: string }>(
      'select partition, "offset"::text, reason, detail from dead_letters where topic = $1',
      [topic],
    );
    const tableReasons = new Map(rows.map((row) => [`${row.partition}:${row.offset}`, row.reason]));
    expect(tableReasons).toEqual(poisonReasons);
    expect(rows.every((row) => row.detail.length > 0)).toBe(true);

    // The dead-letter topic: each poison record (at least once), its reason and source in headers.
    const deadLetters = await readTopic(kafka, deadLetterTopic, (read) => read.length >= poisonCount);
    const topicReasons = new Map(
      deadLetters.map(({ headers = {} }) => [
        `${headers["source-partition"]?.toString()}:${headers["source-offset"]?.toString()}`,
        headers["dead-letter-reason"]?.toString(),
      ]),
    );
    expect(topicReasons).toEqual(poisonReasons);
    for (const { headers = {} } of deadLetters) {
      expect(headers["source-topic"]?.toString()).toBe(topic);
      expect(headers["dead-letter-detail"]?.toString().length).toBeGreaterThan(0);
      // The original headers travel along.
      expect(headers.reason?.toString()).toBe(headers["dead-letter-reason"]?.toString());
    }

    recordFaultRow({
      scenario: "poison mixed into every partition",
      accepted: accepted.length,
      stored,
      lost,
      duplicated,
      deadLettered: await deadLetterCount(pool, topic),
      redelivered: 0,
      recoverMs: null,
      note: `${poisonCount} poison (undecodable, invalid) among ${accepted.length} valid, 3 partitions: all drained and committed in ${(drainMs / 1000).toFixed(1)} s`,
    });
    expect({ lost, duplicated }).toEqual({ lost: 0, duplicated: 0 });
    expect(stored).toBe(accepted.length);
  }, 120_000);
});
