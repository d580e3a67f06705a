import type { Admin, IHeaders, Message } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertDeadLetters } from "../../lib/consumer/dead-letters.js";
import { closeDb, getDb, getPool } from "../../lib/db/client.js";
import { importDeadLetterTopic } from "../../scripts/dead-letters/import.js";
import { testKafka, uniqueName } from "../support/kafka.js";

/**
 * The import against the real broker with what a poison flood leaves on the dead-letter topic: thousands
 * of small messages in large record batches on one partition and two ~900 kB ones, more than one fetch
 * holds. It used to fetch the same first megabyte forever.
 */
const SMALL = 10_000;
const LARGE = 2;
/** About 9 s here with the producing; before the fix the import never finished. */
const BOUND_MS = 45_000;
const kafka = testKafka();
const admin: Admin = kafka.admin();
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const source = uniqueName("test.dl-import-source");
const deadLetterTopic = `${source}.dead-letter`;

beforeAll(async () => {
  await Promise.all([admin.connect(), producer.connect()]);
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: source, numPartitions: 3, replicationFactor: 1 },
      { topic: deadLetterTopic, numPartitions: 3, replicationFactor: 1 },
    ],
  });
});

afterAll(async () => {
  await producer.disconnect();
  await admin.deleteTopics({ topics: [source, deadLetterTopic] }).catch(() => {});
  await admin.disconnect();
  await getPool().query("delete from dead_letters where topic = $1", [source]);
  await closeDb();
});

function deadLetter(offset: number, value: Buffer, headers: IHeaders = {}): Message {
  return {
    key: `C${offset}`,
    value,
    partition: 0,
    headers: {
      "dead-letter-reason": "function-error",
      "dead-letter-detail": "boom",
      "dead-letter-function": "consume",
      "source-topic": source,
      "source-partition": String(offset % 3),
      "source-offset": String(offset),
      "source-timestamp": "1796000000000",
      ...headers,
    },
  };
}

describe("importing the dead-letter topic", () => {
  it("imports a poison flood (10,000 small messages in large batches and two ~900 kB ones) in bounded time", async () => {
    // Batches of 2,000 (~600 kB each), then the large ones, then more small: the reader crosses each kind.
    for (let start = 0; start < SMALL; start += 2_000) {
      const messages = Array.from({ length: 2_000 }, (_, index) =>
        deadLetter(start + index, Buffer.from(`{"poison":${start + index},"pad":"${"x".repeat(200)}"}`)),
      );
      await producer.send({ topic: deadLetterTopic, acks: -1, messages });
      if (start === 4_000) {
        for (let index = 0; index < LARGE; index += 1) {
          await producer.send({
            topic: deadLetterTopic,
            acks: -1,
            messages: [deadLetter(SMALL + index, Buffer.alloc(900 * 1024, 120))],
          });
        }
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const summary = await Promise.race([
      importDeadLetterTopic({
        kafka,
        db: getDb(),
        topic: deadLetterTopic,
        groupId: uniqueName("test.dl-import"),
        sourceTopics: [source],
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the import did not finish in ${BOUND_MS / 1000} s`)), BOUND_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    expect(summary).toMatchObject({ read: SMALL + LARGE, imported: SMALL + LARGE, invalidSource: 0, foreignTopic: 0 });
    const { rows } = await getPool().query<{ count: string; large: string }>(
      "select count(*)::text as count, count(*) filter (where length(value) > 1000000)::text as large from dead_letters where topic = $1",
      [source],
    );
    expect(rows[0]).toEqual({ count: String(SMALL + LARGE), large: String(LARGE) });
  }, 90_000);
});

describe("what the import refuses", () => {
  it("skips and counts messages naming another topic, an impossible source or the consumer's own reason; the consumer's row wins its offset", async () => {
    const topic = uniqueName("test.dl-planted");
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
    try {
      const planted = (headers: IHeaders) => ({ ...deadLetter(900_000, Buffer.from('{"planted":true}'), headers), partition: 0 });
      await producer.send({
        topic,
        acks: -1,
        messages: [
          planted({ "source-topic": "somewhere.else" }),
          planted({ "source-partition": "2147483648" }),
          planted({ "source-partition": "-1" }),
          planted({ "source-partition": "3" }),
          planted({ "source-offset": "1e3" }),
          planted({ "source-offset": "9007199254740993" }),
          planted({ "source-timestamp": "-5" }),
          planted({ "dead-letter-reason": "invalid" }),
          { value: "not a dead letter" },
          // Claims offset 77 of partition 1 before the consume function dead-letters the record there.
          planted({ "source-partition": "1", "source-offset": "77" }),
        ],
      });
      const summary = await importDeadLetterTopic({
        kafka,
        db: getDb(),
        topic,
        groupId: uniqueName("test.dl-import"),
        sourceTopics: [source],
      });
      expect(summary).toMatchObject({
        read: 10,
        imported: 1,
        foreignTopic: 1,
        invalidSource: 6,
        consumers: 1,
        unrecognised: 1,
      });

      await insertDeadLetters(getDb(), [
        {
          record: { topic: source, partition: 1, offset: 77, timestamp: 1, key: "C77", value: Buffer.from("{"), headers: {} },
          reason: "undecodable",
          detail: "not JSON",
        },
      ]);
      const { rows } = await getPool().query<{ reason: string; key: string }>(
        'select reason, key from dead_letters where topic = $1 and partition = 1 and "offset" = 77',
        [source],
      );
      expect(rows).toEqual([{ reason: "undecodable", key: "C77" }]);
    } finally {
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    }
  });
});
