import { randomBytes, randomUUID } from "node:crypto";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COPY_COLUMNS, copyTransactions } from "../../lib/db/copy.js";
import type { NewTransactionRow } from "../../lib/db/schema.js";
import { databaseErrorOf } from "../../lib/failures.js";
import { storedPaymentExample } from "../../lib/reports/schemas.js";

/**
 * The consumer stores a batch with one COPY (lib/db/copy.ts), whose text format it writes itself: every value
 * must come back from the real table exactly as it went in, whatever its characters, and an id stored before
 * must leave the transaction usable with nothing of the failed COPY in it.
 */

const topic = `test.copy.${randomBytes(4).toString("hex")}`;
let pool: pg.Pool;
let seq = 0;

beforeAll(() => {
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
});
afterAll(async () => {
  await pool.query("delete from transactions where kafka_topic = $1", [topic]);
  await pool.end();
});

const { kafka: _, receivedAt, persistedAt: __, ...payment } = storedPaymentExample;

function row(overrides: Partial<NewTransactionRow> = {}): NewTransactionRow {
  seq += 1;
  return {
    ...payment,
    id: randomUUID(),
    receivedAt: new Date(receivedAt),
    kafkaTopic: topic,
    kafkaPartition: 0,
    kafkaOffset: seq,
    chainSeq: seq,
    chainHash: "test",
    ...overrides,
  };
}

/** `work` in a transaction on one connection, rolled back or committed as asked. */
async function inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>, commit = true): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    const result = await work(client);
    await client.query(commit ? "commit" : "rollback");
    return result;
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

const stored = async (ids: string[]) =>
  (
    await pool.query(
      `select id, step, type, amount::text, name_orig, old_balance_orig::text, new_balance_orig::text, name_dest,
              old_balance_dest::text, new_balance_dest::text, is_fraud, is_flagged_fraud, status, received_at, persisted_at,
              kafka_topic, kafka_partition, kafka_offset::int, idempotency_fingerprint, chain_seq::int, chain_hash
         from transactions where id = any($1::uuid[]) order by chain_seq`,
      [ids],
    )
  ).rows;

describe("COPY into transactions", () => {
  it("writes every column of the table but the generated one", async () => {
    const { rows } = await pool.query<{ column_name: string }>(
      `select column_name from information_schema.columns
        where table_name = 'transactions' and table_schema = current_schema() and is_generated = 'NEVER'`,
    );
    expect([...COPY_COLUMNS].sort()).toEqual(rows.map((column) => column.column_name).sort());
  });

  it("stores any text, money and instant exactly as given (fast-check)", async () => {
    // Any characters PostgreSQL's text takes (all but NUL), separators and backslashes included.
    const separators = fc.constantFrom("\t", "\n", "\r", "\\", "\\N", "\\.", ".", "a", "é", "😀");
    const text = fc
      .oneof(fc.string({ unit: "grapheme", maxLength: 40 }), fc.string({ unit: separators, maxLength: 12 }))
      .filter((value) => !value.includes("\0"));
    const money = fc
      .tuple(fc.bigInt({ min: 0n, max: 10n ** 16n - 1n }), fc.integer({ min: 0, max: 99 }))
      .map(([units, cents]) => `${units}.${String(cents).padStart(2, "0")}`);
    const instant = fc.date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true });
    const fields = fc.record({
      nameOrig: text,
      nameDest: text,
      amount: money,
      newbalanceDest: money,
      receivedAt: instant,
      isFraud: fc.boolean(),
      idempotencyFingerprint: fc.option(text, { nil: null }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fields, { minLength: 1, maxLength: 20 }), instant, async (variants, persistedAt) => {
        const rows = variants.map((variant) => row(variant));
        expect(await inTransaction((client) => copyTransactions(client, rows, persistedAt))).toBe(true);
        const back = await stored(rows.map((one) => one.id));
        expect(back).toEqual(
          rows.map((one) => ({
            id: one.id,
            step: one.step,
            type: one.type,
            amount: one.amount,
            name_orig: one.nameOrig,
            old_balance_orig: one.oldbalanceOrg,
            new_balance_orig: one.newbalanceOrig,
            name_dest: one.nameDest,
            old_balance_dest: one.oldbalanceDest,
            new_balance_dest: one.newbalanceDest,
            is_fraud: one.isFraud,
            is_flagged_fraud: one.isFlaggedFraud,
            status: one.status,
            received_at: one.receivedAt,
            persisted_at: persistedAt,
            kafka_topic: one.kafkaTopic,
            kafka_partition: one.kafkaPartition,
            kafka_offset: one.kafkaOffset,
            idempotency_fingerprint: one.idempotencyFingerprint ?? null,
            chain_seq: one.chainSeq,
            chain_hash: one.chainHash,
          })),
        );
      }),
      { numRuns: 40 },
    );
  });

  it("answers false for an id stored before, stores none of the batch, and leaves the transaction usable", async () => {
    const first = row();
    await inTransaction((client) => copyTransactions(client, [first], new Date()));
    const batch = [row(), row({ id: first.id }), row()];
    const ids = batch.map((one) => one.id);
    const outcome = await inTransaction(async (client) => {
      const copied = await copyTransactions(client, batch, new Date());
      // The transaction goes on: a statement after the failed COPY runs, and the transaction commits.
      const { rows } = await client.query<{ n: number }>(
        "select count(*)::int as n from transactions where id = any($1::uuid[])",
        [ids],
      );
      return { copied, visible: rows[0]?.n };
    });
    expect(outcome).toEqual({ copied: false, visible: 1 });
    expect((await stored(ids)).map((back) => back.kafka_offset)).toEqual([first.kafkaOffset]);
  });

  it("throws what is not a repeated id, as the database refused it (a NUL in a name: 22021)", async () => {
    const failure = await inTransaction(
      (client) => copyTransactions(client, [row({ nameOrig: "a\0b" })], new Date()),
      false,
    ).catch((error: unknown) => error);
    expect(databaseErrorOf(failure)?.code).toBe("22021");
  });
});
