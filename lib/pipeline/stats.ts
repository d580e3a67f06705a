import { sql } from "drizzle-orm";
import { config } from "../config.js";
import type { DeadLetterReason } from "../consumer/reasons.js";
import type { Database } from "../db/client.js";
import { readDatabase } from "../db/reads.js";
import { describeFailure } from "../failures.js";
import { checkHealth, HEALTH_CHECK_TIMEOUT_MS } from "../health.js";
import { consumerGroupLag, consumerGroupState, topicMessageCount } from "../kafka/lag.js";
import { logger } from "../logger.js";
import { withTimeout } from "../timeout.js";
import {
  type ConsumerHealth,
  DEAD_LETTER_DETAIL_CHARS,
  type DeadLetterSummary,
  type PipelineStats,
  RATE_AVERAGE_SECONDS,
  RECENT_DEAD_LETTERS,
  type Throughput,
} from "./schemas.js";

const log = logger.child({ component: "pipeline-stats" });

/** Seconds of per-second rates GET /pipeline/stats returns (the dashboard's throughput chart). */
export const RATE_WINDOW_SECONDS = 60;
/**
 * stored/s reads rows received at most this long before the window (index on received_at), so a row stored
 * more than 15 minutes after the API accepted it (a long backlog) is not counted in stored/s; the lag shows it.
 */
const STORE_DELAY_BOUND = "15 minutes";

const iso = (value: Date | string) => new Date(value).toISOString();

/** accepted/s and stored/s per second over the last `windowSeconds` complete seconds. */
export function readThroughput(db?: Database, windowSeconds = RATE_WINDOW_SECONDS): Promise<Throughput> {
  return readDatabase((reader) => throughputOf(reader, windowSeconds), db);
}

async function throughputOf(db: Database, windowSeconds: number): Promise<Throughput> {
  const {
    rows: [bounds],
  } = await db.execute<{ upto: string }>(sql`select extract(epoch from date_trunc('second', now()))::bigint::text as upto`);
  const upto = Number(bounds?.upto);
  const from = upto - windowSeconds;
  // Both ranges use the (status, received_at) index; stored/s reads rows received up to STORE_DELAY_BOUND earlier.
  const { rows } = await db.execute<{ series: "accepted" | "stored"; second: string; count: number }>(sql`
    select 'accepted' as series, floor(extract(epoch from received_at))::bigint::text as second, count(*)::int as count
      from transactions
     where status = 'Completed' and received_at >= to_timestamp(${from}) and received_at < to_timestamp(${upto})
     group by 2
    union all
    select 'stored', floor(extract(epoch from persisted_at))::bigint::text, count(*)::int
      from transactions
     where status = 'Completed'
       and received_at >= to_timestamp(${from}) - interval '${sql.raw(STORE_DELAY_BOUND)}'
       and persisted_at >= to_timestamp(${from}) and persisted_at < to_timestamp(${upto})
     group by 2`);
  const series = Array.from({ length: windowSeconds }, (_, index) => ({
    at: new Date((from + index) * 1000).toISOString(),
    accepted: 0,
    stored: 0,
  }));
  for (const row of rows) {
    const entry = series[Number(row.second) - from];
    if (entry) entry[row.series] = row.count;
  }
  const recent = series.slice(-RATE_AVERAGE_SECONDS);
  const average = (key: "accepted" | "stored") =>
    Math.round((recent.reduce((sum, entry) => sum + entry[key], 0) / recent.length) * 10) / 10;
  return { windowSeconds, acceptedPerSecond: average("accepted"), storedPerSecond: average("stored"), series };
}

/** Dead letters of `topic`: counts by reason and the newest few. */
export function readDeadLetters(db?: Database, topic = config.TRANSACTIONS_TOPIC): Promise<DeadLetterSummary> {
  return readDatabase((reader) => deadLettersOf(reader, topic), db);
}

async function deadLettersOf(db: Database, topic: string): Promise<DeadLetterSummary> {
  const [byReason, recent] = await Promise.all([
    db.execute<{ reason: DeadLetterReason; count: number; last_at: string }>(sql`
      select reason, count(*)::int as count, max(created_at) as last_at
        from dead_letters where topic = ${topic}
       group by reason order by count(*) desc, reason`),
    db.execute<{
      id: string;
      reason: DeadLetterReason;
      detail: string;
      partition: number;
      offset: string;
      created_at: string;
    }>(sql`
      select id::text, reason, left(detail, ${DEAD_LETTER_DETAIL_CHARS}) as detail, partition, "offset"::text, created_at
        from dead_letters where topic = ${topic}
       order by id desc limit ${RECENT_DEAD_LETTERS}`),
  ]);
  return {
    total: byReason.rows.reduce((sum, row) => sum + row.count, 0),
    byReason: byReason.rows.map((row) => ({ reason: row.reason, count: row.count, lastAt: iso(row.last_at) })),
    recent: recent.rows.map((row) => ({
      id: Number(row.id),
      reason: row.reason,
      detail: row.detail,
      partition: row.partition,
      offset: Number(row.offset),
      createdAt: iso(row.created_at),
    })),
  };
}

/** The consumer group as a dependency: up while it has members. */
export async function checkConsumer(
  groupId = config.CONSUMER_GROUP_ID,
  timeoutMs = HEALTH_CHECK_TIMEOUT_MS,
): Promise<ConsumerHealth> {
  const started = performance.now();
  const latencyMs = () => Math.round(performance.now() - started);
  try {
    const { state, members } = await consumerGroupState(groupId, timeoutMs);
    const up = members > 0;
    return {
      status: up ? "up" : "down",
      latencyMs: latencyMs(),
      groupId,
      state,
      members,
      ...(up ? {} : { error: "no consumer in the group" }),
    };
  } catch (error) {
    log.warn({ err: error, groupId }, "consumer group look-up failed");
    return { status: "down", latencyMs: latencyMs(), groupId, state: "Unknown", members: 0, error: "Kafka did not answer" };
  }
}

/**
 * How long each database or Kafka read of the stats may take; past it that part is null. Longer than the
 * read pool's statement timeout (2.5 s by default), so a database read ends with the server's own reason.
 */
export const STATS_PART_TIMEOUT_MS = 4_000;

type Part<T> = { value: T; unavailable?: undefined } | { value: null; unavailable: string };

async function part<T>(what: string, read: () => Promise<T>): Promise<Part<T>> {
  try {
    return { value: await withTimeout(read(), STATS_PART_TIMEOUT_MS, `reading the ${what}`) };
  } catch (error) {
    const unavailable = describeFailure(error);
    log.warn({ error: unavailable }, `${what} not available`);
    return { value: null, unavailable };
  }
}

/**
 * What the dashboard shows of the pipeline, read in parallel, each part bounded: the health of Kafka,
 * PostgreSQL and the consumer group, accepted/s and stored/s, the lag per partition and the dead letters.
 * A part whose dependency is down is null; the answer itself never fails for that.
 */
export async function pipelineStats(): Promise<PipelineStats> {
  const topic = config.TRANSACTIONS_TOPIC;
  const [health, consumer, throughput, lag, deadLetters, deadLetterMessages] = await Promise.all([
    checkHealth(),
    checkConsumer(),
    part("throughput", () => readThroughput()),
    part("consumer lag", () => consumerGroupLag(topic, config.CONSUMER_GROUP_ID)),
    part("dead letters", () => readDeadLetters()),
    part("dead-letter topic", () => topicMessageCount(config.DEAD_LETTER_TOPIC)),
  ]);
  const unavailable = Object.fromEntries(
    Object.entries({ throughput, lag, deadLetters, deadLetterTopic: deadLetterMessages }).flatMap(([name, { unavailable }]) =>
      unavailable ? [[name, unavailable]] : [],
    ),
  );
  return {
    at: new Date().toISOString(),
    topic,
    health: { ...health.checks, consumer },
    throughput: throughput.value,
    lag: lag.value,
    deadLetters: deadLetters.value,
    deadLetterTopic:
      deadLetterMessages.value === null ? null : { topic: config.DEAD_LETTER_TOPIC, messages: deadLetterMessages.value },
    unavailable,
  };
}
