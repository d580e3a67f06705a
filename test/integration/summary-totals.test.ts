import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { buildMskEvent } from "serverless-offline-kafka-trigger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { persistMskEvent } from "../../lib/consumer/persist.js";
import { type Database, MIGRATIONS_FOLDER, migrateDatabase } from "../../lib/db/client.js";
import * as schema from "../../lib/db/schema.js";
import { toMessage } from "../../lib/ingest.js";
import type { Summary } from "../../lib/reports/schemas.js";
import { type SummaryFilter, summarizeTransactions } from "../../lib/reports/summary.js";
import { TRANSACTION_STATUSES, TRANSACTION_TYPES, type Transaction } from "../../lib/transaction.js";
import { dropDatabase, ensureDatabase, withDatabase } from "../../scripts/infra/index.js";
import { readPaysimCsv } from "../../scripts/paysim/csv.js";
import { seedTransactions } from "../../scripts/seed/historical.js";
import { closePool } from "../support/database.js";

/**
 * GET /reports/summary reads transaction_totals, which triggers keep current as rows are stored. Here the
 * rows arrive the ways they do in production (the consume function's batches, the seed, SQL), in parallel
 * too, and every time the totals and the summary must equal an aggregate over the whole table computed by a
 * plain SQL scan in this file. On a database of the test's own, so the scan covers exactly these rows.
 */

const ROOT = resolve(import.meta.dirname, "../..");
const SAMPLE = join(ROOT, "data/paysim-sample.csv");
const suffix = randomBytes(4).toString("hex");
const databaseUrl = withDatabase(process.env.DATABASE_URL as string, `txlog_totals_${suffix}`);
const backfillUrl = withDatabase(process.env.DATABASE_URL as string, `txlog_totals_backfill_${suffix}`);
const topic = `test.totals.${suffix}`;

let pool: pg.Pool;
let sample: Transaction[];

/** A drizzle instance of its own: the summary's cache is per instance, so each check reads the database. */
const freshDb = (on: pg.Pool = pool) => drizzle(on, { schema }) as unknown as Database;

let nextOffset = 0;
/** One partition's batch as the MSK trigger delivers it: the API's own messages (lib/ingest's toMessage). */
function batchEvent(partition: number, transactions: Transaction[], receivedAt = new Date()) {
  const messages = transactions.map((transaction) => {
    const { message } = toMessage(transaction, receivedAt);
    return {
      key: Buffer.from(message.key),
      value: Buffer.from(message.value),
      offset: String(nextOffset++),
      timestamp: String(receivedAt.getTime()),
      headers: {},
    };
  });
  return buildMskEvent([{ topic, partition, messages }], { bootstrapServers: ["127.0.0.1:9092"], eventSourceArn: "test" });
}

const persist = (event: ReturnType<typeof batchEvent>) =>
  persistMskEvent(event, { db: freshDb(), deadLetterTopic: `${topic}.dead-letter` });

const GROUP_COLUMNS = `count(*)::text as count, coalesce(sum(amount), 0.00)::text as amount,
  count(*) filter (where is_fraud)::text as fraud_count, coalesce(sum(amount) filter (where is_fraud), 0.00)::text as fraud_amount,
  count(*) filter (where is_flagged_fraud)::text as flagged_count,
  coalesce(sum(amount) filter (where is_flagged_fraud), 0.00)::text as flagged_amount`;

/** Per (step, type, status), by a full scan of transactions and from transaction_totals: they must be equal. */
async function groupedBothWays(on: pg.Pool = pool) {
  const { rows: scanned } = await on.query(
    `select step, type, status, ${GROUP_COLUMNS} from transactions group by 1, 2, 3 order by 1, 2, 3`,
  );
  const { rows: kept } = await on.query(
    `select step, type, status, sum(count)::text as count, sum(amount)::text as amount,
            sum(fraud_count)::text as fraud_count, sum(fraud_amount)::text as fraud_amount,
            sum(flagged_fraud_count)::text as flagged_count, sum(flagged_fraud_amount)::text as flagged_amount
       from transaction_totals group by 1, 2, 3 order by 1, 2, 3`,
  );
  return { scanned, kept };
}

/** The summary GET /reports/summary must answer, built from full scans of transactions. */
async function scannedSummary(filter: SummaryFilter): Promise<Summary> {
  const conditions: string[] = ["true"];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    conditions.push(sql.replace("?", `$${params.length}`));
  };
  if (filter.stepFrom !== undefined) add("step >= ?", filter.stepFrom);
  if (filter.stepTo !== undefined) add("step <= ?", filter.stepTo);
  if (filter.type !== undefined) add("type = ?", filter.type);
  if (filter.status !== undefined) add("status = ?", filter.status);
  const where = conditions.join(" and ");
  const by = async (column: string) =>
    (await pool.query(`select ${column} as key, ${GROUP_COLUMNS} from transactions where ${where} group by 1`, params)).rows;
  const [total] = (await pool.query(`select ${GROUP_COLUMNS} from transactions where ${where}`, params)).rows;
  const volume = (row: { count: string; amount: string }) => ({ count: Number(row.count), amount: row.amount });
  const byType = await by("type");
  const byStatus = await by("status");
  const bySteps = (await by("step")).sort((a, b) => a.key - b.key);
  return {
    filter: {
      stepFrom: filter.stepFrom ?? null,
      stepTo: filter.stepTo ?? null,
      type: filter.type ?? null,
      status: filter.status ?? null,
    },
    ...volume(total),
    byType: TRANSACTION_TYPES.flatMap((type) =>
      byType.filter((row) => row.key === type).map((row) => ({ type, ...volume(row) })),
    ),
    byStatus: TRANSACTION_STATUSES.flatMap((status) =>
      byStatus.filter((row) => row.key === status).map((row) => ({ status, ...volume(row) })),
    ),
    fraud: { count: Number(total.fraud_count), amount: total.fraud_amount },
    flaggedFraud: { count: Number(total.flagged_count), amount: total.flagged_amount },
    byStep: bySteps.map((row) => ({ step: row.key, ...volume(row) })),
  };
}

const FILTERS: SummaryFilter[] = [
  {},
  { type: "TRANSFER" },
  { status: "Completed", stepFrom: 2, stepTo: 200 },
  { status: "Historical" },
];

/** The totals and every filter's summary equal the full-scan aggregate. */
async function expectSummaryMatchesScan(): Promise<void> {
  const { scanned, kept } = await groupedBothWays();
  expect(kept).toEqual(scanned);
  for (const filter of FILTERS) expect(await summarizeTransactions(filter, freshDb())).toEqual(await scannedSummary(filter));
}

async function dropDatabases(): Promise<void> {
  for (const url of [databaseUrl, backfillUrl]) await dropDatabase(url);
}

beforeAll(async () => {
  await ensureDatabase(databaseUrl);
  await migrateDatabase(databaseUrl);
  pool = new pg.Pool({ connectionString: databaseUrl, max: 20 });
  // Every sixth row of the sample: all of its steps (1 to 9), types and fraud flags.
  sample = [];
  let line = 0;
  for await (const row of readPaysimCsv(SAMPLE)) if (line++ % 6 === 0) sample.push(row.transaction);
});

afterAll(async () => {
  await closePool(pool);
  await dropDatabases();
});

describe("transaction_totals", () => {
  it("equals a full scan after batches of the consume function, a redelivery and the seed", async () => {
    const summary = await persist(batchEvent(0, sample.slice(0, 1_500)));
    expect(summary.inserted).toBe(1_500);
    await persist(batchEvent(1, sample.slice(1_500, 2_000)));
    await expectSummaryMatchesScan();

    // The same batch again (same ids): nothing new stored, nothing counted twice.
    const first = batchEvent(2, sample.slice(2_000, 2_300));
    expect((await persist(first)).inserted).toBe(300);
    expect((await persist(structuredClone(first))).inserted).toBe(0);

    const seeded = await seedTransactions({ file: SAMPLE, rows: 2_500, batchSize: 700, db: freshDb() });
    expect(seeded.inserted).toBe(2_500);
    const again = await seedTransactions({ file: SAMPLE, rows: 2_500, db: freshDb() });
    expect(again.inserted).toBe(0);
    await expectSummaryMatchesScan();
    const all = await summarizeTransactions({}, freshDb());
    expect(all.count).toBe(1_500 + 500 + 300 + 2_500);
    expect(all.byStatus.map((entry) => [entry.status, entry.count])).toEqual([
      ["Historical", 2_500],
      ["Completed", 2_300],
    ]);
  });

  it("stays exact when batches of several partitions, and of the same partition, commit in parallel", async () => {
    // The same steps and types in every batch: without per-partition keys they would all update the same rows.
    const batches = Array.from({ length: 12 }, (_, i) => batchEvent(i % 6, sample.slice(i * 400, (i + 1) * 400)));
    const results = await Promise.all(batches.map((event) => persist(event)));
    expect(results.map((result) => result.inserted)).toEqual(Array(12).fill(400));
    await expectSummaryMatchesScan();
    const { rows } = await pool.query("select distinct shard from transaction_totals order by shard");
    expect(rows.map((row) => row.shard)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("follows deletes, updates and a truncate, and drops keys left with no rows", async () => {
    await pool.query("delete from transactions where type = 'CASH_IN' and status = 'Completed'");
    await pool.query(
      "update transactions set amount = amount + 0.01, is_fraud = not is_fraud where type = 'PAYMENT' and step = 1",
    );
    await pool.query("update transactions set step = step + 500 where type = 'DEBIT'");
    await expectSummaryMatchesScan();
    const { rows } = await pool.query("select count(*)::int as n from transaction_totals where count <= 0");
    expect(rows[0].n).toBe(0);

    await pool.query("truncate transactions");
    expect((await pool.query("select count(*)::int as n from transaction_totals")).rows[0].n).toBe(0);
    expect(await summarizeTransactions({}, freshDb())).toMatchObject({ count: 0, amount: "0.00", byType: [], byStep: [] });
  });

  it("is backfilled by its migration from the rows stored before it", async () => {
    // The migrations before transaction_totals, applied to a database that then gets rows by plain SQL.
    const earlier = mkdtempSync(join(tmpdir(), "txlog-migrations-"));
    try {
      cpSync(MIGRATIONS_FOLDER, earlier, { recursive: true });
      const journalFile = join(earlier, "meta/_journal.json");
      const journal = JSON.parse(readFileSync(journalFile, "utf8"));
      const index = journal.entries.findIndex((entry: { tag: string }) => entry.tag === "0004_transaction-totals");
      expect(index).toBeGreaterThan(0);
      journal.entries = journal.entries.slice(0, index);
      writeFileSync(journalFile, JSON.stringify(journal));
      await ensureDatabase(backfillUrl);
      const backfillPool = new pg.Pool({ connectionString: backfillUrl, max: 2 });
      try {
        await migrate(drizzle(backfillPool), { migrationsFolder: earlier });
        await backfillPool.query(`
          insert into transactions (id, step, type, amount, name_orig, old_balance_orig, new_balance_orig, name_dest,
                                    old_balance_dest, new_balance_dest, is_fraud, is_flagged_fraud, status, received_at,
                                    kafka_topic, kafka_partition, kafka_offset)
          select gen_random_uuid(), 1 + i % 37, (array['CASH_IN','CASH_OUT','DEBIT','PAYMENT','TRANSFER'])[1 + i % 5],
                 (i * 7919 % 1000000) / 100.0, 'C' || i, 0, 0, 'M' || i, 0, 0, i % 13 = 0, i % 97 = 0,
                 case when i % 3 = 0 then 'Historical' else 'Completed' end, now(),
                 case when i % 3 = 0 then null else 't' end, case when i % 3 = 0 then null else i % 20 end, i
            from generate_series(1, 5000) as i`);
        await migrateDatabase(backfillUrl);
        const { scanned, kept } = await groupedBothWays(backfillPool);
        expect(scanned.length).toBeGreaterThan(100);
        expect(kept).toEqual(scanned);
        // Partitions 16..19 share the shards of 0..3.
        const { rows } = await backfillPool.query("select max(shard)::int as max from transaction_totals");
        expect(rows[0].max).toBe(15);
      } finally {
        await backfillPool.end();
      }
    } finally {
      rmSync(earlier, { recursive: true, force: true });
    }
  });
});
