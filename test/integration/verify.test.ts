import { execFile } from "node:child_process";
import { resolve } from "node:path";
import type { MSKEvent } from "aws-lambda";
import { eq } from "drizzle-orm";
import { v7 as uuidv7 } from "uuid";
import { afterAll, describe, expect, it } from "vitest";
import { persistMskEvent } from "../../lib/consumer/persist.js";
import { canonicalContent, chainHash, GENESIS_HASH } from "../../lib/db/chain.js";
import { closeDb, getDb, getPool } from "../../lib/db/client.js";
import { type NewTransactionRow, type TransactionRow, transactions } from "../../lib/db/schema.js";
import { insertTransactions } from "../../lib/db/transactions.js";
import { disconnectProducer } from "../../lib/kafka/producer.js";
import { paysimExamples, TransactionInput } from "../../lib/transaction.js";
import { uniqueName } from "../support/kafka.js";

/**
 * The hash chain against the test database: rows stored by the consume path and by insertTransactions chain per
 * scope; `npm run verify` (the real CLI, as a child process) finds a row edited in SQL, a row deleted, and a row
 * inserted by hand, each in a chain of its own, and exits 0 on the intact ones.
 */

const REPO = resolve(import.meta.dirname, "../..");

function verify(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "scripts/verify.ts", ...args],
      { cwd: REPO, env: process.env, timeout: 60_000 },
      (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** `count` rows of a topic of their own (partition 0): one chain, "<topic>-0". */
async function chainOf(count: number): Promise<{ scope: string; ids: string[] }> {
  const topic = uniqueName("test.verify");
  const rows: NewTransactionRow[] = Array.from({ length: count }, (_, offset) => ({
    id: uuidv7(),
    step: 1,
    type: "PAYMENT",
    amount: offset % 2 ? "0.1" : "9839.64",
    nameOrig: "C1231006815",
    oldbalanceOrg: "170136",
    newbalanceOrig: "160296.36",
    nameDest: "M1979787155",
    oldbalanceDest: "0",
    newbalanceDest: "0",
    isFraud: false,
    isFlaggedFraud: false,
    status: "Completed",
    receivedAt: new Date(),
    kafkaTopic: topic,
    kafkaPartition: 0,
    kafkaOffset: offset,
  }));
  expect(await insertTransactions(getDb(), rows)).toBe(count);
  return { scope: `${topic}-0`, ids: rows.map((row) => row.id as string) };
}

const query = (text: string, values: unknown[] = []) => getPool().query(text, values);

/** A stored row as an insertable one, without its place in a chain. */
async function storedRow(id: string): Promise<NewTransactionRow> {
  const [row] = await getDb().select().from(transactions).where(eq(transactions.id, id));
  const { chainScope: _scope, chainSeq: _seq, chainHash: _hash, persistedAt: _at, ...content } = row as TransactionRow;
  return content;
}

afterAll(async () => {
  await disconnectProducer();
  await closeDb();
});

describe("the hash chain", () => {
  it("links each new row to the one before, 1, 2, 3 in its scope, and verify recomputes it (exit 0)", async () => {
    const { scope, ids } = await chainOf(5);
    const { rows } = await query(
      "select id, chain_seq::int as seq, chain_hash as hash from transactions where chain_scope = $1 order by chain_seq",
      [scope],
    );
    expect(rows.map((row) => row.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(rows.map((row) => row.id)).toEqual(ids);
    const head = await query("select seq::int, hash from chain_heads where scope = $1", [scope]);
    expect(head.rows).toEqual([{ seq: 5, hash: rows[4]?.hash }]);
    // The first link is sha256 of the genesis and the documented canonical content.
    const [stored] = await getDb()
      .select()
      .from(transactions)
      .where(eq(transactions.id, ids[0] as string));
    expect(stored).toBeDefined();
    expect(rows[0]?.hash).toBe(chainHash(GENESIS_HASH, canonicalContent(scope, 1, stored as TransactionRow)));

    const result = await verify("--scope", scope);
    expect(result.stdout).toContain(`verify: chain ${scope}: rows 1 to 5 intact`);
    expect(result.code, result.stderr).toBe(0);
  });

  it("finds a row edited in SQL, naming its place and id", async () => {
    const { scope, ids } = await chainOf(5);
    await query("update transactions set amount = amount + 0.01 where id = $1", [ids[2]]);
    const result = await verify("--scope", scope);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      `verify: BROKEN: chain ${scope}, row 3 (id ${ids[2]}): its content does not match its hash (edited, or inserted by hand with a made-up hash)\n`,
    );
    // A range before the edit still holds; one over it does not.
    expect((await verify("--scope", scope, "--to", "2")).code).toBe(0);
    expect((await verify("--scope", scope, "--from", "2", "--to", "4")).code).toBe(1);
  });

  it("finds a row deleted in the middle, and one deleted at the end", async () => {
    const middle = await chainOf(5);
    await query("delete from transactions where id = $1", [middle.ids[1]]);
    const result = await verify("--scope", middle.scope);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`row 3 (id ${middle.ids[2]}): row 2 is missing (deleted)`);

    const end = await chainOf(3);
    await query("delete from transactions where id = $1", [end.ids[2]]);
    const tail = await verify("--scope", end.scope);
    expect(tail.code).toBe(1);
    expect(tail.stdout).toContain("rows 3 to 3 are missing (deleted): the head is row 3");
  });

  it("finds a row inserted by hand; one without a chain is refused outright", async () => {
    const { scope, ids } = await chainOf(3);
    const copy = `insert into transactions (id, step, type, amount, name_orig, old_balance_orig, new_balance_orig, name_dest,
        old_balance_dest, new_balance_dest, is_fraud, is_flagged_fraud, status, received_at, kafka_topic, kafka_partition,
        kafka_offset, chain_seq, chain_hash)
      select $2, step, type, amount, name_orig, old_balance_orig, new_balance_orig, name_dest, old_balance_dest,
        new_balance_dest, is_fraud, is_flagged_fraud, status, received_at, kafka_topic, kafka_partition, kafka_offset,
        $3, $4
      from transactions where id = $1`;
    await expect(query(copy, [ids[0], uuidv7(), null, null])).rejects.toMatchObject({ code: "23514" });

    // chain_scope is generated from the Kafka columns: the copy lands in the same chain.
    const forged = uuidv7();
    await query(copy, [ids[0], forged, 4, "f".repeat(64)]);
    const result = await verify("--scope", scope);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`row 4 (id ${forged}): beyond the chain's head (row 3): inserted by hand`);
  });

  it("keeps a chain intact through the consume path's redeliveries and repeated ids", async () => {
    const topic = uniqueName("test.verify-consume");
    const message = (id: string, offset: number) => ({
      topic,
      partition: 0,
      offset,
      timestamp: Date.now(),
      timestampType: "CREATE_TIME" as const,
      key: Buffer.from("C1").toString("base64"),
      value: Buffer.from(
        JSON.stringify({ id, receivedAt: new Date().toISOString(), transaction: TransactionInput.parse(paysimExamples.payment) }),
      ).toString("base64"),
      headers: [],
    });
    const event = (records: ReturnType<typeof message>[]): MSKEvent => ({
      eventSource: "aws:kafka",
      eventSourceArn: "arn:aws:kafka:local",
      bootstrapServers: "127.0.0.1:9092",
      records: { [`${topic}-0`]: records },
    });
    const [a, b, c, d] = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];
    await persistMskEvent(event([message(a, 0), message(b, 1)]), { deadLetterTopic: `${topic}.dead-letter` });
    // Redelivered whole, then a batch repeating b (and c twice) around new ids.
    const again = await persistMskEvent(event([message(a, 0), message(b, 1)]), { deadLetterTopic: `${topic}.dead-letter` });
    expect(again.inserted).toBe(0);
    const mixed = await persistMskEvent(event([message(b, 1), message(c, 2), message(c, 3), message(d, 4)]), {
      deadLetterTopic: `${topic}.dead-letter`,
    });
    expect(mixed.inserted).toBe(2);
    const { rows } = await query("select id, chain_seq::int as seq from transactions where chain_scope = $1 order by chain_seq", [
      `${topic}-0`,
    ]);
    expect(rows).toEqual([
      { id: a, seq: 1 },
      { id: b, seq: 2 },
      { id: c, seq: 3 },
      { id: d, seq: 4 },
    ]);
    const result = await verify("--scope", `${topic}-0`);
    expect(result.code, result.stdout).toBe(0);
  });

  it("stays intact when another process extends the same chain between two batches of this one", async () => {
    const { scope, ids } = await chainOf(2);
    const topic = scope.slice(0, -2);
    // Another process (with heads of its own) stores two rows of the same partition.
    const other = `
      import { v7 } from "uuid";
      import { closeDb, getDb } from "./lib/db/client.ts";
      import { insertTransactions } from "./lib/db/transactions.ts";
      const row = (offset) => ({ id: v7(), step: 1, type: "DEBIT", amount: "1.00", nameOrig: "C1", oldbalanceOrg: "1.00",
        newbalanceOrig: "0.00", nameDest: "C2", oldbalanceDest: "0.00", newbalanceDest: "1.00", isFraud: false,
        isFlaggedFraud: false, status: "Completed", receivedAt: new Date(), kafkaTopic: ${JSON.stringify(topic)},
        kafkaPartition: 0, kafkaOffset: offset });
      await insertTransactions(getDb(), [row(100), row(101)]);
      await closeDb();`;
    await new Promise<void>((done, fail) =>
      execFile(
        process.execPath,
        ["--import", "tsx", "--input-type=module", "-e", other],
        { cwd: REPO, env: process.env },
        (error) => (error ? fail(error) : done()),
      ),
    );
    // This process still knows the head it left at row 2: its next batch must notice and link after row 4.
    const rows: NewTransactionRow[] = [{ ...(await storedRow(ids[0] as string)), id: uuidv7(), kafkaOffset: 200 }];
    expect(await insertTransactions(getDb(), rows)).toBe(1);
    const seqs = await query("select chain_seq::int as seq from transactions where chain_scope = $1 order by chain_seq", [scope]);
    expect(seqs.rows.map((row) => row.seq)).toEqual([1, 2, 3, 4, 5]);
    const result = await verify("--scope", scope);
    expect(result.code, result.stdout).toBe(0);
  });

  it("answers a chain that does not exist with one line, exit 1", async () => {
    const result = await verify("--scope", "no-such-chain-0");
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("verify failed: no chain named no-such-chain-0 (npm run verify lists them)\n");
  });
});
