import { AssignerProtocol } from "kafkajs";
import pg from "pg";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { kafka } from "../../lib/kafka/client.js";
import { groupName, type RunContext, topicName } from "../lib/context.js";
import { prefillTopic } from "../lib/kafka.js";
import { startWorker } from "../lib/pipeline.js";
import { type ManagedProcess, waitUntil } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { apiMessages } from "./drain.js";

/** K: partitions of the scale-out topic (W = 1..3 workers split them 6, 3+3, 2+2+2). */
export const SCALE_OUT_PARTITIONS = 6;
export const SCALE_OUT_WORKERS = [1, 2, 3] as const;

interface Drain {
  workers: number;
  rows: number;
  rowsPerSec: number;
  spanMs: number;
  /** Rows stored per partition (kafka_partition): the workers split them evenly. */
  partitionsStored: Record<number, number>;
}

/** The rate as the database saw it, first to last batch (persisted_at is a batch's start: the last batch is left out). */
async function drained(client: pg.Client, topic: string, workers: number): Promise<Drain> {
  const { rows } = await client.query<{ rows: number; span_ms: number; last_batch: number }>(
    `select count(*)::int as rows,
            coalesce(extract(epoch from max(persisted_at) - min(persisted_at)) * 1000, 0)::float8 as span_ms,
            (select count(*)::int from transactions t2
              where t2.kafka_topic = $1 and t2.persisted_at = (select max(persisted_at) from transactions where kafka_topic = $1)) as last_batch
       from transactions where kafka_topic = $1`,
    [topic],
  );
  const byPartition = await client.query<{ partition: number; n: number }>(
    "select kafka_partition as partition, count(*)::int as n from transactions where kafka_topic = $1 group by 1 order by 1",
    [topic],
  );
  const result = rows[0] ?? { rows: 0, span_ms: 0, last_batch: 0 };
  return {
    workers,
    rows: result.rows,
    spanMs: result.span_ms,
    rowsPerSec: result.span_ms > 0 ? ((result.rows - result.last_batch) / result.span_ms) * 1000 : Number.NaN,
    partitionsStored: Object.fromEntries(byPartition.rows.map(({ partition, n }) => [partition, n])),
  };
}

/** True once `group` is Stable with `members` members that together own all K partitions of `topic`. */
async function splitAmong(group: string, topic: string, members: number): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [description] = (await admin.describeGroups([group])).groups;
    if (description?.state !== "Stable" || description.members.length !== members) return false;
    const owned = description.members.reduce(
      (sum, member) => sum + (AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.assignment[topic]?.length ?? 0),
      0,
    );
    return owned === SCALE_OUT_PARTITIONS;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Stage 8, scale-out: W = 1, 2, 3 workers (`npm run worker`, one consumer group each) over a topic of K = 6
 * partitions. For each W: an empty topic, the W workers joined and the partitions split among them, then the
 * topic filled (as fast as the broker takes it) and drained into an emptied table; the rate per W from the
 * database, first to last batch. On 2 cores the workers share the CPU with PostgreSQL and the broker: read
 * the ratio, not a promise.
 */
export async function scaleOut(context: RunContext): Promise<void> {
  const { sizes, log } = context;
  const rows = Math.max(2_000, Math.round(sizes.drainRows / 2));
  const messages = apiMessages(context.bodies, rows);
  const client = new pg.Client({ connectionString: context.databaseUrl });
  await client.connect();
  const results: Drain[] = [];
  try {
    for (const workers of SCALE_OUT_WORKERS) {
      const topic = topicName(context, `scale-out-${workers}`);
      await ensureTopics([topic, `${topic}.dead-letter`], { partitions: SCALE_OUT_PARTITIONS });
      context.topics.push(`${topic}.dead-letter`);
      await client.query("truncate transactions, dead_letters");
      const group = groupName(context, `scale-out-${workers}`);
      log.info({ stage: "8", workers, group, topic, rows, partitions: SCALE_OUT_PARTITIONS }, "starting the workers");
      const started: ManagedProcess[] = Array.from({ length: workers }, (_, i) =>
        startWorker(context, `worker-scale-${workers}-${i + 1}`, topic, group),
      );
      try {
        await waitUntil(
          `${workers} worker(s) sharing ${SCALE_OUT_PARTITIONS} partitions`,
          () => splitAmong(group, topic, workers),
          {
            timeoutMs: 60_000,
            intervalMs: 200,
            process: started[0],
          },
        );
        log.info({ stage: "8", workers }, "partitions split; filling the topic");
        await prefillTopic(topic, messages);
        await waitUntil(
          `${workers} worker(s) drain ${rows} rows`,
          async () => {
            const { rows: counted } = await client.query<{ n: number }>("select count(*)::int as n from transactions");
            return (counted[0]?.n ?? 0) >= rows;
          },
          { timeoutMs: 60_000 + rows, intervalMs: 100, process: started[0] },
        );
      } finally {
        await Promise.all(started.map((worker) => worker.stop()));
      }
      const result = await drained(client, topic, workers);
      log.info({ stage: "8", ...result }, "drained");
      results.push(result);
    }
  } finally {
    await client.end();
  }

  const single = results[0]?.rowsPerSec;
  context.details.scaleOut = { rows, partitions: SCALE_OUT_PARTITIONS, results };
  for (const result of results) {
    context.rows.push(
      row(
        "8 scale-out",
        `rows/s drained, ${result.workers} worker${result.workers === 1 ? "" : "s"}, ${SCALE_OUT_PARTITIONS} partitions (${rows.toLocaleString("en-US")} rows)`,
        result.rowsPerSec,
        "rows/s",
        {
          reference: result.workers === 1 ? undefined : single,
          note: "reference: 1 worker in the same run (ratio = speed-up)",
        },
      ),
    );
  }
}
