import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { Message } from "kafkajs";
import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { COPY_COLUMNS } from "../../lib/db/copy.js";
import { toMessage } from "../../lib/ingest.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { type Transaction, TransactionInput } from "../../lib/transaction.js";
import { groupName, type RunContext, topicName } from "../lib/context.js";
import { prefillTopic } from "../lib/kafka.js";
import { TreeMemorySampler, type TreePeak } from "../lib/memory.js";
import { startWorker } from "../lib/pipeline.js";
import { type ManagedProcess, waitUntil } from "../lib/processes.js";
import { row } from "../lib/report.js";

const MB = 1024 * 1024;

/**
 * The messages the API would have produced for `count` sample rows: lib/ingest's own toMessage (UUIDv7
 * id, receivedAt, the validated transaction; keyed by nameOrig), so the format cannot drift.
 */
export function apiMessages(bodies: readonly string[], count: number): Message[] {
  const transactions = bodies.map((body) => TransactionInput.parse(JSON.parse(body)));
  const receivedAt = new Date();
  return Array.from(
    { length: count },
    (_, i) => toMessage(transactions[i % transactions.length] as Transaction, receivedAt).message,
  );
}

interface DrainTiming {
  rows: number;
  /** Rows divided by the time from the first to the last commit, per the database's persisted_at. */
  rowsPerSec: number;
  spanMs: number;
}

/** The drain rate as the database saw it: from the first committed batch to the last one. */
async function drainTiming(client: pg.Client, topic: string): Promise<DrainTiming> {
  const { rows } = await client.query<{ rows: number; span_ms: number; last_batch: number }>(
    `select count(*)::int as rows,
            (extract(epoch from max(persisted_at) - min(persisted_at)) * 1000)::float8 as span_ms,
            (select count(*)::int from transactions t2
              where t2.kafka_topic = $1 and t2.persisted_at = (select max(persisted_at) from transactions where kafka_topic = $1)) as last_batch
       from transactions where kafka_topic = $1`,
    [topic],
  );
  const result = rows[0] ?? { rows: 0, span_ms: 0, last_batch: 0 };
  // persisted_at is the start of each batch's transaction, so the span covers all batches but the last.
  const rowsPerSec = result.span_ms > 0 ? ((result.rows - result.last_batch) / result.span_ms) * 1000 : Number.NaN;
  return { rows: result.rows, rowsPerSec, spanMs: result.span_ms };
}

/**
 * The physical reference: the same rows, exported from the table the worker filled, COPYed into an
 * identical fresh table (same columns, defaults, indexes) over the same kind of connection.
 */
async function copyReference(client: pg.Client, topic: string): Promise<{ rows: number; ms: number; rowsPerSec: number }> {
  const columns = COPY_COLUMNS.join(", ");
  const chunks: Buffer[] = [];
  const exported = client.query(copyTo(`copy (select ${columns} from transactions where kafka_topic = '${topic}') to stdout`));
  for await (const chunk of exported) chunks.push(chunk as Buffer);
  await client.query("drop table if exists copy_reference");
  await client.query("create table copy_reference (like transactions including all)");
  const started = performance.now();
  await pipeline(Readable.from(chunks), client.query(copyFrom(`copy copy_reference (${columns}) from stdin`)));
  const ms = performance.now() - started;
  const { rows } = await client.query<{ rows: number }>("select count(*)::int as rows from copy_reference");
  await client.query("drop table copy_reference");
  const copied = rows[0]?.rows ?? 0;
  return { rows: copied, ms, rowsPerSec: (copied / ms) * 1000 };
}

function workerLabel(count: number): string {
  return count === 1 ? "1 worker" : `${count} workers`;
}

/** One drain of the pre-filled topic by `count` workers sharing a fresh consumer group, into an emptied table. */
async function drainWith(context: RunContext, client: pg.Client, topic: string, count: number) {
  const { sizes, log } = context;
  await client.query("truncate transactions, dead_letters");
  const group = groupName(context, `drain-${count}`);
  log.info({ stage: "4", group, workers: count }, "starting the workers");
  const started = performance.now();
  // Several workers share the group the way `npm run worker` scales: Kafka splits the partitions.
  const workers = Array.from({ length: count }, (_, i) =>
    startWorker(context, count === 1 ? "worker-drain" : `worker-drain-${count}x-${i + 1}`, topic, group),
  );
  const memory = workers.map((worker) => new TreeMemorySampler(worker.pid).start());
  let stored = 0;
  let lastLogged = 0;
  let peaks: TreePeak[] = [];
  try {
    await waitUntil(
      `${count} worker(s) drain ${sizes.drainRows} rows`,
      async () => {
        const { rows } = await client.query<{ n: number }>("select count(*)::int as n from transactions");
        stored = rows[0]?.n ?? 0;
        if (performance.now() - lastLogged > 2_000) {
          lastLogged = performance.now();
          log.info({ stage: "4", workers: count, stored, of: sizes.drainRows }, "draining");
        }
        return stored >= sizes.drainRows;
      },
      { timeoutMs: 60_000 + sizes.drainRows, intervalMs: 100, process: workers[0] as ManagedProcess },
    );
  } finally {
    await sleep(100);
    peaks = memory.map((sampler) => sampler.stop());
    await Promise.all(workers.map((worker) => worker.stop()));
  }
  const wallMs = performance.now() - started;
  const timing = await drainTiming(client, topic);
  const { rows: dead } = await client.query<{ n: number }>("select count(*)::int as n from dead_letters");
  log.info({ stage: "4", workers: count, ...timing, wallMs: Math.round(wallMs), deadLetters: dead[0]?.n }, "drained");
  return { workers: count, timing, wallMs, peaks, deadLetters: dead[0]?.n ?? 0 };
}

/**
 * Stage 4: a pre-filled topic of 3 partitions drained by the real worker (`npm run worker`) into a fresh
 * table, by 1, 2 and 3 workers in turn (a consumer group each; `--drain-workers N` runs only N), each
 * against a COPY of the same rows into an identical table, measured in the same run.
 */
export async function workerDrain(context: RunContext): Promise<void> {
  const { sizes, log } = context;
  const topic = topicName(context, "drain");
  const client = new pg.Client({ connectionString: context.databaseUrl });
  await client.connect();
  try {
    await ensureTopics([topic, `${topic}.dead-letter`]);
    context.topics.push(`${topic}.dead-letter`);

    log.info({ stage: "4", topic, rows: sizes.drainRows }, "building messages");
    const messages = apiMessages(context.bodies, sizes.drainRows);
    const fillStarted = performance.now();
    let lastReport = 0;
    await prefillTopic(topic, messages, (sent) => {
      if (sent - lastReport >= 50_000 || sent === messages.length) {
        lastReport = sent;
        log.info({ stage: "4", sent, of: messages.length }, "pre-filling the topic");
      }
    });
    const fillMs = performance.now() - fillStarted;

    const counts = sizes.drainWorkerCounts;
    const drains = [];
    let copy: Awaited<ReturnType<typeof copyReference>> | undefined;
    for (const count of counts) {
      drains.push(await drainWith(context, client, topic, count));
      // The reference once, from the first drain's rows: the very rows the workers stored.
      if (!copy) {
        log.info({ stage: "4" }, "COPY reference");
        copy = await copyReference(client, topic);
        log.info({ stage: "4", ...copy }, "COPY reference done");
      }
    }
    context.details.workerDrainMemory = drains.map((drain) => drain.peaks);
    context.details.drain = { topic, fillMs, copy, drains: drains.map(({ peaks: _, ...rest }) => rest) };
    for (const drain of drains) {
      context.rows.push(
        row(
          "4 worker drain",
          `rows/s persisted (${sizes.drainRows.toLocaleString("en-US")} rows, ${workerLabel(drain.workers)}, 3 partitions)`,
          drain.timing.rowsPerSec,
          "rows/s",
          {
            reference: copy?.rowsPerSec,
            target: { on: "ratio", comparison: ">=", threshold: 0.6 },
            note: `reference: COPY of the same rows into an identical table; wall incl. start-up ${Math.round(drain.wallMs)} ms`,
          },
        ),
      );
    }
    const largestRoot = Math.max(...drains.flatMap((drain) => drain.peaks.map((peak) => peak.rootPeakRss)));
    context.rows.push(
      row("6 peak RSS", "worker under (4), largest", largestRoot / MB, "MB", {
        target: { on: "value", comparison: "<=", threshold: 250 },
      }),
    );
  } finally {
    await client.end();
  }
}
