/**
 * How fast can one connection store the worker's rows, by insert path? Evidence for the stage 4
 * bound (Drizzle statement building per row), not part of `npm run bench`:
 *
 *   npx tsx bench/experiments/insert-paths.ts [--rows 100000] [--batch 500]
 *
 * Each path inserts the same rows into a fresh, identical copy of `transactions`, `batch` rows per
 * transaction with ON CONFLICT (id) DO NOTHING, as the consume handler does.
 */

import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { loadConfig } from "../../../lib/config.js";
import type { NewTransactionRow } from "../../../lib/db/schema.js";
import { insertTransactions } from "../../../lib/db/transactions.js";
import { toMessage } from "../../../lib/ingest.js";
import { type Transaction, TransactionInput } from "../../../lib/transaction.js";
import { dropDatabase, withDatabase } from "../../../scripts/infra/index.js";
import { freshDatabase } from "../../lib/database.js";
import { paysimBodies } from "../../lib/paysim.js";

const { values } = parseArgs({
  options: { rows: { type: "string", default: "100000" }, batch: { type: "string", default: "500" } },
});
const rowCount = Number(values.rows);
const batch = Number(values.batch);
const url = withDatabase(loadConfig().DATABASE_URL, "txlog_bench_insert");
await freshDatabase(url);

const samples = paysimBodies().map((body) => TransactionInput.parse(body));
const receivedAt = new Date();
const rows: NewTransactionRow[] = Array.from({ length: rowCount }, (_, i) => {
  const { value } = toMessage(samples[i % samples.length] as Transaction, receivedAt).message;
  const message = JSON.parse(value) as { id: string; receivedAt: string; transaction: Transaction };
  return {
    id: message.id,
    ...message.transaction,
    status: "Completed",
    receivedAt: new Date(message.receivedAt),
    kafkaTopic: "bench",
    kafkaPartition: i % 3,
    kafkaOffset: i,
  };
});

const pool = new pg.Pool({ connectionString: url, max: 1 });
// These paths predate the hash chain (lib/db/chain.ts) and write no chain columns: a database without its check.
await pool.query("alter table transactions drop constraint if exists transactions_chained");

async function timed(name: string, insertBatch: (client: pg.PoolClient, chunk: NewTransactionRow[]) => Promise<void>) {
  await pool.query("truncate transactions");
  const client = await pool.connect();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  try {
    for (let start = 0; start < rows.length; start += batch) {
      await client.query("begin");
      await insertBatch(client, rows.slice(start, start + batch));
      await client.query("commit");
    }
  } finally {
    client.release();
  }
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const { rows: counted } = await pool.query<{ n: number }>("select count(*)::int as n from transactions");
  console.log(
    JSON.stringify({
      path: name,
      rows: counted[0]?.n,
      rowsPerSec: Math.round((rowCount / ms) * 1000),
      nodeCpuMsPer1000Rows: Math.round(((cpu.user + cpu.system) / 1000 / rowCount) * 1000 * 10) / 10,
    }),
  );
}

const COLUMNS = `id, step, type, amount, name_orig, old_balance_orig, new_balance_orig, name_dest, old_balance_dest,
  new_balance_dest, is_fraud, is_flagged_fraud, status, received_at, kafka_topic, kafka_partition, kafka_offset`;
const toArrays = (chunk: NewTransactionRow[]) => [
  chunk.map((r) => r.id),
  chunk.map((r) => r.step),
  chunk.map((r) => r.type),
  chunk.map((r) => r.amount),
  chunk.map((r) => r.nameOrig),
  chunk.map((r) => r.oldbalanceOrg),
  chunk.map((r) => r.newbalanceOrig),
  chunk.map((r) => r.nameDest),
  chunk.map((r) => r.oldbalanceDest),
  chunk.map((r) => r.newbalanceDest),
  chunk.map((r) => r.isFraud),
  chunk.map((r) => r.isFlaggedFraud),
  chunk.map((r) => r.status),
  chunk.map((r) => (r.receivedAt as Date).toISOString()),
  chunk.map((r) => r.kafkaTopic),
  chunk.map((r) => r.kafkaPartition),
  chunk.map((r) => r.kafkaOffset),
];

// The consume handler's path today: Drizzle builds a VALUES list of 17 parameters a row.
await timed("drizzle insert().values() (lib/db insertTransactions)", async (client, chunk) => {
  await insertTransactions(drizzle(client), chunk);
});

// One array parameter a column: 17 parameters a statement whatever the batch size.
await timed("unnest arrays, 17 parameters a statement (pg)", async (client, chunk) => {
  await client.query(
    `insert into transactions (${COLUMNS})
     select * from unnest($1::uuid[], $2::int[], $3::text[], $4::numeric[], $5::text[], $6::numeric[], $7::numeric[],
       $8::text[], $9::numeric[], $10::numeric[], $11::bool[], $12::bool[], $13::text[], $14::timestamptz[], $15::text[],
       $16::int[], $17::bigint[])
     on conflict (id) do nothing`,
    toArrays(chunk),
  );
});

// Hand-built VALUES with 17 parameters a row: what Drizzle sends, without Drizzle's building (PostgreSQL binds
// at most 65,535 parameters: skipped for larger batches).
if (batch * 17 <= 65_535)
  await timed("VALUES list, 17 parameters a row (pg, hand-built)", async (client, chunk) => {
    const params: unknown[] = [];
    const tuples = chunk.map((r) => {
      const base = params.length;
      params.push(
        r.id,
        r.step,
        r.type,
        r.amount,
        r.nameOrig,
        r.oldbalanceOrg,
        r.newbalanceOrig,
        r.nameDest,
        r.oldbalanceDest,
        r.newbalanceDest,
        r.isFraud,
        r.isFlaggedFraud,
        r.status,
        r.receivedAt,
        r.kafkaTopic,
        r.kafkaPartition,
        r.kafkaOffset,
      );
      return `(${Array.from({ length: 17 }, (_, i) => `$${base + i + 1}`).join(",")})`;
    });
    await client.query(`insert into transactions (${COLUMNS}) values ${tuples.join(",")} on conflict (id) do nothing`, params);
  });

// COPY into a temporary table of the session, then one INSERT ... SELECT ... ON CONFLICT DO NOTHING: the
// rows travel in COPY's text format, parsed by PostgreSQL without array literals or parameters.
const copyText = (value: unknown): string =>
  value === null || value === undefined
    ? "\\N"
    : (value instanceof Date ? value.toISOString() : String(value)).replace(/[\\\t\n\r]/g, (c) =>
        c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r",
      );
const stagingReady = new WeakSet<pg.PoolClient>();
await timed("COPY into a temp table, then INSERT ... SELECT (pg-copy-streams)", async (client, chunk) => {
  if (!stagingReady.has(client)) {
    await client.query("create temp table if not exists staging (like transactions including defaults) on commit delete rows");
    stagingReady.add(client);
  }
  const lines = toArrays(chunk);
  const text = chunk.map((_, row) => lines.map((column) => copyText(column[row])).join("\t")).join("\n") + "\n";
  await pipeline(Readable.from([text]), client.query(copyFrom(`copy staging (${COLUMNS}) from stdin`)));
  await client.query(
    `insert into transactions (${COLUMNS}) select ${COLUMNS} from staging on conflict (id) do nothing returning id`,
  );
});

// COPY straight into transactions under a savepoint: no conflict check (the unique index still refuses a
// redelivered id, which would roll back to the savepoint and take the ON CONFLICT path).
await timed("COPY into transactions under a savepoint (pg-copy-streams)", async (client, chunk) => {
  const lines = toArrays(chunk);
  const text = `${chunk.map((_, row) => lines.map((column) => copyText(column[row])).join("\t")).join("\n")}\n`;
  await client.query("savepoint copy_rows");
  await pipeline(Readable.from([text]), client.query(copyFrom(`copy transactions (${COLUMNS}) from stdin`)));
  await client.query("release savepoint copy_rows");
});

await pool.end();
await dropDatabase(url);
