/**
 * Where does the worker's time per row go, without Kafka? Evidence for the stage 4 bound, not part of
 * `npm run bench`:
 *
 *   npx tsx bench/experiments/consume-path.ts [--rows 100000] [--batch 500]
 *
 * The API's messages (lib/ingest toMessage) are grouped into MSK events as the poller builds them
 * (the trigger package's buildMskEvent), then, one batch at a time on one connection:
 *   build      buildMskEvent only (the poller's base64 work)
 *   classify   + decodeMskEvent + classifyRecord + toTransactionRow (the handler's CPU work, no database)
 *   persist    lib/consume persistMskEvent: all of the above + the Drizzle insert in one transaction (today's handler)
 *   unnest     classify + the same rows inserted with one unnest() statement in one transaction
 */
import { parseArgs } from "node:util";
import { drizzle } from "drizzle-orm/node-postgres";
import type { KafkaMessage } from "kafkajs";
import pg from "pg";
import { buildMskEvent } from "serverless-offline-kafka-trigger";
import { loadConfig } from "../../../lib/config.js";
import { classifyRecord, isPoison } from "../../../lib/consumer/classify.js";
import { persistMskEvent, toTransactionRow } from "../../../lib/consumer/persist.js";
import type { NewTransactionRow } from "../../../lib/db/schema.js";
import * as schema from "../../../lib/db/schema.js";
import { toMessage } from "../../../lib/ingest.js";
import { decodeMskEvent } from "../../../lib/kafka/msk-event.js";
import { type Transaction, TransactionInput } from "../../../lib/transaction.js";
import { dropDatabase, withDatabase } from "../../../scripts/infra/index.js";
import { freshDatabase } from "../../lib/database.js";
import { paysimBodies } from "../../lib/paysim.js";

const { values } = parseArgs({
  options: { rows: { type: "string", default: "100000" }, batch: { type: "string", default: "500" } },
});
const rowCount = Number(values.rows);
const batchSize = Number(values.batch);
const url = withDatabase(loadConfig().DATABASE_URL, "txlog_bench_consume");
await freshDatabase(url);
const pool = new pg.Pool({ connectionString: url, max: 1 });
// These paths predate the hash chain (lib/db/chain.ts) and write no chain columns: a database without its check.
await pool.query("alter table transactions drop constraint if exists transactions_chained");
const db = drizzle(pool, { schema });

const samples = paysimBodies().map((body) => TransactionInput.parse(body) as Transaction);
const topic = "bench.consume-path";
const batches: KafkaMessage[][] = [];
for (let start = 0; start < rowCount; start += batchSize) {
  batches.push(
    Array.from({ length: Math.min(batchSize, rowCount - start) }, (_, i) => {
      const { key, value } = toMessage(samples[(start + i) % samples.length] as Transaction).message;
      return {
        key: Buffer.from(key),
        value: Buffer.from(value),
        offset: String(start + i),
        timestamp: String(Date.now()),
        headers: {},
        attributes: 0,
        size: 0,
      } as unknown as KafkaMessage;
    }),
  );
}
const source = { bootstrapServers: ["127.0.0.1:9092"], eventSourceArn: "arn:aws:kafka:local" };
const eventOf = (messages: KafkaMessage[]) => buildMskEvent([{ topic, partition: 0, messages }], source);

function rowsOf(event: ReturnType<typeof eventOf>): NewTransactionRow[] {
  const rows: NewTransactionRow[] = [];
  for (const record of decodeMskEvent(event)) {
    const result = classifyRecord(record);
    if (!isPoison(result)) rows.push(toTransactionRow(result));
  }
  return rows;
}

const COLUMNS = `id, step, type, amount, name_orig, old_balance_orig, new_balance_orig, name_dest, old_balance_dest,
  new_balance_dest, is_fraud, is_flagged_fraud, status, received_at, kafka_topic, kafka_partition, kafka_offset`;
const UNNEST = `insert into transactions (${COLUMNS})
  select * from unnest($1::uuid[], $2::int[], $3::text[], $4::numeric[], $5::text[], $6::numeric[], $7::numeric[],
    $8::text[], $9::numeric[], $10::numeric[], $11::bool[], $12::bool[], $13::text[], $14::timestamptz[], $15::text[],
    $16::int[], $17::bigint[])
  on conflict (id) do nothing`;
const column = <K extends keyof NewTransactionRow>(rows: NewTransactionRow[], key: K) => rows.map((row) => row[key]);

async function timed(path: string, perBatch: (messages: KafkaMessage[]) => Promise<unknown> | unknown) {
  await pool.query("truncate transactions");
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (const messages of batches) await perBatch(messages);
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const { rows } = await pool.query<{ n: number }>("select count(*)::int as n from transactions");
  console.log(
    JSON.stringify({
      path,
      stored: rows[0]?.n,
      rowsPerSec: Math.round((rowCount / ms) * 1000),
      usPerRowWall: Math.round((ms * 1000) / rowCount),
      usPerRowNodeCpu: Math.round((cpu.user + cpu.system) / rowCount),
    }),
  );
}

await timed("build (poller: buildMskEvent)", (messages) => eventOf(messages));
await timed("classify (+ decode, JSON.parse, zod, toTransactionRow)", (messages) => rowsOf(eventOf(messages)));
await timed("persist (lib/consume persistMskEvent, Drizzle insert)", (messages) => persistMskEvent(eventOf(messages), { db }));
await timed("unnest (classify + one unnest() insert a batch)", async (messages) => {
  const rows = rowsOf(eventOf(messages));
  const client = await pool.connect();
  try {
    await client.query("begin");
    await client.query(UNNEST, [
      column(rows, "id"),
      column(rows, "step"),
      column(rows, "type"),
      column(rows, "amount"),
      column(rows, "nameOrig"),
      column(rows, "oldbalanceOrg"),
      column(rows, "newbalanceOrig"),
      column(rows, "nameDest"),
      column(rows, "oldbalanceDest"),
      column(rows, "newbalanceDest"),
      column(rows, "isFraud"),
      column(rows, "isFlaggedFraud"),
      column(rows, "status"),
      rows.map((row) => (row.receivedAt as Date).toISOString()),
      column(rows, "kafkaTopic"),
      column(rows, "kafkaPartition"),
      column(rows, "kafkaOffset"),
    ]);
    await client.query("commit");
  } finally {
    client.release();
  }
});

await pool.end();
await dropDatabase(url);
