import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { MSKEvent } from "aws-lambda";
import type { Admin, KafkaMessage, Message, Producer } from "kafkajs";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { persistMskEvent } from "../../lib/consumer/persist.js";
import { closeDb, getDb, getPool } from "../../lib/db/client.js";
import { disconnectProducer, produce } from "../../lib/kafka/producer.js";
import { paysimExamples, TransactionInput } from "../../lib/transaction.js";
import { txlogFailedRecord } from "../../plugins/offline-kafka/binding.js";
import { importDeadLetterTopic } from "../../scripts/dead-letters/import.js";
import { RedriveError, redrive } from "../../scripts/dead-letters/redrive.js";
import { decodeValue, showEntry } from "../../scripts/dead-letters/render.js";
import { countByReason, type DeadLetterRow, findDeadLetter, listDeadLetters } from "../../scripts/dead-letters/store.js";
import { replay, replayRanges } from "../../scripts/replay/replay.js";
import { testKafka, uniqueName } from "../support/kafka.js";

/**
 * An operator's round trip against the real broker and database: a poison record is listed, shown,
 * fixed and redriven to Completed, and stays one row however often it is redriven; the consumer's part
 * is played by `replay` (the consume handler on a topic range), which is idempotent too.
 */
const REPO = resolve(import.meta.dirname, "../..");
const PARTITION = 1;
const kafka = testKafka();
const admin: Admin = kafka.admin();
const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const topic = uniqueName("test.dead-letters");
const deadLetterTopic = `${topic}.dead-letter`;
const workDir = mkdtempSync(join(tmpdir(), "txlog-dead-letters-"));

beforeAll(async () => {
  await Promise.all([admin.connect(), producer.connect()]);
  await admin.createTopics({
    waitForLeaders: true,
    topics: [topic, deadLetterTopic].map((name) => ({ topic: name, numPartitions: 3, replicationFactor: 1 })),
  });
});

afterAll(async () => {
  await producer.disconnect();
  await admin.deleteTopics({ topics: [topic, deadLetterTopic] }).catch(() => {});
  await admin.disconnect();
  await disconnectProducer();
  await closeDb();
});

/** A message of the documented transfer with this amount, as written (not validated: it may be poison). */
function transactionValue(id: string, amount: string, nameOrig: string = paysimExamples.fraudTransfer.nameOrig): string {
  const transaction = { ...TransactionInput.parse(paysimExamples.fraudTransfer), amount, nameOrig };
  return JSON.stringify({ id, receivedAt: new Date().toISOString(), transaction });
}

/** Produces to the test partition; returns each message's offset. */
async function produceRecords(messages: Omit<Message, "partition">[]): Promise<number[]> {
  const [sent] = await producer.send({
    topic,
    acks: -1,
    messages: messages.map((message) => ({ ...message, partition: PARTITION })),
  });
  return messages.map((_, index) => Number(sent?.baseOffset) + index);
}

let consumedUpTo = 0;
let recordsRead = 0;
/** The consumer's part: what the partition received since the last call, through the consume handler. */
async function consumeNew() {
  const summary = await replay({
    kafka,
    topic,
    from: { offset: consumedUpTo },
    partition: PARTITION,
    invoke: (event: MSKEvent) => persistMskEvent(event, { deadLetterTopic }),
  });
  consumedUpTo = summary.partitions[0]?.to ?? consumedUpTo;
  recordsRead += summary.read;
  return summary;
}

async function storedRows(id: string) {
  const { rows } = await getPool().query<{ status: string; amount: string; kafka_offset: string }>(
    "select status, amount::text, kafka_offset::text from transactions where id = $1",
    [id],
  );
  return rows;
}

const ofTopic = async (reason?: string) => listDeadLetters(getDb(), { topic, reason }, 100);

describe("dead letters: list, show, fix and redrive", () => {
  const poisonId = uuidv7();
  const original = transactionValue(poisonId, "12.345", "C-dead-letter");
  let row: DeadLetterRow;
  const fixedFile = join(workDir, "fixed.json");

  it("a record invalid for the consumer is dead-lettered, listed and shown as written", async () => {
    const validId = uuidv7();
    await produceRecords([
      { key: "C1305486145", value: transactionValue(validId, "181.00") },
      { key: "C-dead-letter", value: original },
    ]);
    const summary = await consumeNew();
    expect(summary).toMatchObject({ read: 2, inserted: 1, duplicates: 0, deadLettered: 1 });
    expect(await storedRows(validId)).toHaveLength(1);

    const listed = await ofTopic();
    expect(listed).toHaveLength(1);
    row = listed[0] as DeadLetterRow;
    expect(row).toMatchObject({ reason: "invalid", partition: PARTITION, offset: 1, key: "C-dead-letter", redrivenAt: null });
    expect(row.detail).toContain("transaction.amount");
    expect(await countByReason(getDb(), { topic })).toEqual([{ reason: "invalid", count: 1, pending: 1 }]);

    const shown = showEntry(row);
    expect(shown).toMatchObject({ id: row.id, valueText: original, valueIsJson: true, valueBytes: Buffer.byteLength(original) });
  });

  it("a corrected value that is still invalid is refused and nothing is produced", async () => {
    const produced: string[] = [];
    const stillBad = Buffer.from(transactionValue(poisonId, "12.3456"));
    await expect(
      redrive({
        db: getDb(),
        selection: { id: row.id },
        value: stillBad,
        produce: async (to) => {
          produced.push(to);
        },
      }),
    ).rejects.toThrow(RedriveError);
    expect(produced).toEqual([]);
    expect((await findDeadLetter(getDb(), row.id))?.redrivenAt).toBeNull();
  });

  it("redriven with the fix, the record is stored as Completed; the row is marked redriven", async () => {
    writeFileSync(fixedFile, original.replace('"12.345"', '"12.35"'));
    const summary = await redrive({
      db: getDb(),
      selection: { id: row.id },
      value: Buffer.from(transactionValue(poisonId, "12.35", "C-dead-letter")),
      produce,
    });
    expect(summary).toMatchObject({ selected: 1, redriven: 1, skipped: 0, stillPoison: 0 });
    expect((await findDeadLetter(getDb(), row.id))?.redrivenAt).toBeInstanceOf(Date);

    const consumed = await consumeNew();
    expect(consumed).toMatchObject({ read: 1, inserted: 1, deadLettered: 0 });
    expect(await storedRows(poisonId)).toEqual([{ status: "Completed", amount: "12.35", kafka_offset: "2" }]);
  });

  it("redriven again (through the CLI), it is still one row", async () => {
    const { stdout } = await cli(["redrive", "--id", String(row.id), "--value-file", fixedFile]);
    expect(lastJsonLine(stdout)).toMatchObject({ selected: 1, redriven: 1, stillPoison: 0 });
    const consumed = await consumeNew();
    expect(consumed).toMatchObject({ read: 1, inserted: 0, duplicates: 1, deadLettered: 0 });
    expect(await storedRows(poisonId)).toHaveLength(1);
    expect(await ofTopic()).toHaveLength(1);
  });

  it("a record redriven unfixed is dead-lettered again at its new offset; a dry run produces nothing", async () => {
    const [offset] = await produceRecords([{ key: "C-undecodable", value: "{not json" }]);
    await consumeNew();
    const [undecodable] = await ofTopic("undecodable");
    expect(undecodable?.offset).toBe(offset);

    const dry = await redrive({
      db: getDb(),
      selection: { reason: "undecodable", topic },
      dryRun: true,
      produce: () => Promise.reject(new Error("a dry run must not produce")),
    });
    expect(dry).toMatchObject({ dryRun: true, selected: 1, redriven: 0, stillPoison: 1 });
    expect(dry.items[0]).toMatchObject({ outcome: "would redrive", note: expect.stringMatching(/^still undecodable/) });

    const done = await redrive({ db: getDb(), selection: { reason: "undecodable", topic }, produce });
    expect(done).toMatchObject({ redriven: 1, stillPoison: 1 });
    expect(await consumeNew()).toMatchObject({ read: 1, deadLettered: 1 });
    const rows = await ofTopic("undecodable");
    expect(rows.map((one) => [one.offset, one.redrivenAt === null])).toEqual([
      [(offset as number) + 1, true],
      [offset, false],
    ]);
    // Nothing is left to redrive by reason once the new row is taken: only never-redriven rows are selected.
    const again = await redrive({ db: getDb(), selection: { reason: "undecodable", topic }, dryRun: true, produce });
    expect(again.items.map(({ id }) => id)).toEqual([rows[0]?.id]);
  });

  it("a record the trigger gave up on (function-error) is imported from the dead-letter topic once, then redriven to Completed", async () => {
    const id = uuidv7();
    const value = transactionValue(id, "99.99", "C-function-error");
    // As the trigger's on-failure destination writes it: the original record and the failure in headers.
    const source: KafkaMessage = {
      key: Buffer.from("C-function-error"),
      value: Buffer.from(value),
      offset: "40",
      timestamp: String(Date.now()),
      attributes: 0,
      headers: {},
    };
    await producer.send({
      topic: deadLetterTopic,
      acks: -1,
      messages: [
        txlogFailedRecord(topic, PARTITION, source, { functionKey: "consume", error: new Error("database said no") }, []),
      ],
    });
    const groupId = uniqueName("test.dead-letter-import");
    const first = await importDeadLetterTopic({ kafka, db: getDb(), topic: deadLetterTopic, groupId, sourceTopics: [topic] });
    // The consumer's own dead letters on the topic are rows already; only the trigger's record is new.
    expect(first.imported).toBe(1);
    expect(first.read).toBeGreaterThan(1);
    const second = await importDeadLetterTopic({ kafka, db: getDb(), topic: deadLetterTopic, groupId, sourceTopics: [topic] });
    expect(second).toMatchObject({ read: 0, imported: 0 });

    const [imported] = await ofTopic("function-error");
    expect(imported).toMatchObject({ partition: PARTITION, offset: 40, key: "C-function-error", detail: "database said no" });
    expect(decodeValue(imported?.value ?? null)?.text).toBe(value);

    const summary = await redrive({ db: getDb(), selection: { reason: "function-error", topic }, produce });
    expect(summary).toMatchObject({ redriven: 1, stillPoison: 0 });
    expect(await consumeNew()).toMatchObject({ inserted: 1 });
    expect(await storedRows(id)).toMatchObject([{ status: "Completed", amount: "99.99" }]);
  });
});

describe("replay", () => {
  it("resolves offsets and instants to per-partition ranges; a replayed range stores nothing twice", async () => {
    const end = consumedUpTo;
    const ranges = await replayRanges(kafka, topic, { from: { offset: 1 }, to: { offset: 2 } });
    expect(ranges).toEqual([
      { partition: 0, from: 0, to: 0 },
      { partition: 1, from: 1, to: 3 },
      { partition: 2, from: 0, to: 0 },
    ]);
    const future = await replayRanges(kafka, topic, { from: { at: new Date(Date.now() + 60_000) }, partition: PARTITION });
    expect(future).toEqual([{ partition: PARTITION, from: end, to: end }]);
    const past = await replayRanges(kafka, topic, { from: { at: new Date(0) }, partition: PARTITION });
    expect(past).toEqual([{ partition: PARTITION, from: 0, to: end }]);

    // Offsets, not records: a transaction's commit marker takes an offset too, so a range may hold fewer records.
    const summary = lastJsonLine((await cli(["--topic", topic, "--from", "0"], "scripts/replay.ts")).stdout);
    expect(summary).toMatchObject({ topic, offsets: end, read: recordsRead, inserted: 0 });
    expect(summary.partitions.find((p: { partition: number }) => p.partition === PARTITION)).toMatchObject({
      from: 0,
      to: end,
      read: recordsRead,
    });
  });

  it("names a topic that does not exist in one line, exit 1", async () => {
    const failure = await cli(["--topic", `${topic}.missing`, "--from", "0"], "scripts/replay.ts").catch((error) => error);
    expect(failure.code).toBe(1);
    expect(failure.stderr).toBe(`replay failed: topic ${topic}.missing does not exist\n`);
  });
});

describe("npm run dead-letters", () => {
  it("lists as JSON lines and shows one record when stdout is not a terminal", async () => {
    const { stdout } = await cli(["list", "--topic", topic, "--reason", "invalid", "--no-import"]);
    const lines = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ reason: "invalid", topic, partition: PARTITION, offset: 1, redrivenAt: expect.any(String) });
    const shown = JSON.parse((await cli(["show", String(lines[0].id)])).stdout);
    expect(shown.valueText).toContain('"amount":"12.345"');
    expect((await cli(["show", String(lines[0].id), "--raw"])).stdout).toMatch(/^\{"id":/);
  });

  it("answers a mistake in one line plus the usage (exit 2) and a missing file in one line (exit 1)", async () => {
    const usage = await cli(["list", "--reasn", "invalid"]).catch((error) => error);
    expect(usage.code).toBe(2);
    expect(usage.stderr.split("\n")[0]).toBe("dead-letters: unknown option '--reasn' (Did you mean --reason?)");
    expect(usage.stderr).toContain("Usage: npm run dead-letters -- list [options]");
    const missing = await cli(["redrive", "--id", "1", "--value-file", join(workDir, "nope.json")]).catch((error) => error);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`dead-letters failed: --value-file: ${join(workDir, "nope.json")}: no such file or directory\n`);
  });
});

/** A CLI's result is its last line (the runtime's own warnings, JSON too, may come before it). */
const lastJsonLine = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1) as string);

function cli(args: string[], script = "scripts/dead-letters.ts") {
  return promisify(execFile)(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: REPO,
    env: { ...process.env, DEAD_LETTER_TOPIC: deadLetterTopic },
  });
}
