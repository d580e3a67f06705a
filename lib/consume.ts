import type { MSKEvent } from "aws-lambda";
import type { IHeaders, Message } from "kafkajs";
import { config } from "./config.js";
import { type Database, getDb } from "./db/client.js";
import { deadLetters, type NewTransactionRow } from "./db/schema.js";
import { insertTransactions } from "./db/transactions.js";
import { ensureTopics, produce } from "./kafka/client.js";
import { type DecodedRecord, decodeMskEvent } from "./kafka/msk-event.js";
import { logger } from "./logger.js";
import { TransactionMessage } from "./transaction.js";

const log = logger.child({ component: "consume" });

/**
 * Policy for records that can never be stored (poison): they are neither retried (that would block
 * their partition forever) nor dropped silently. Each one is written to the dead_letters table in the
 * same database transaction as the batch's good rows, then produced to DEAD_LETTER_TOPIC with the
 * reason in headers; the rest of the batch is stored and the partition keeps flowing.
 * A database or broker error is not poison: it is thrown, so the whole batch is retried.
 */
export type PoisonReason = "oversized" | "undecodable" | "invalid";

/** Larger values are dead-lettered unread: Kafka's default message.max.bytes is about 1 MiB. */
export const MAX_RECORD_BYTES = 1024 * 1024;
/** Dead-letter detail (DB column and header) is cut to this many characters. */
const MAX_DETAIL_CHARS = 1_000;

export interface PoisonRecord {
  record: DecodedRecord;
  reason: PoisonReason;
  detail: string;
}

export interface ValidRecord {
  record: DecodedRecord;
  message: TransactionMessage;
}

export interface PartitionRange {
  count: number;
  firstOffset: number;
  lastOffset: number;
}

/** What one batch did; the handler returns it and logs it as one line. */
export interface BatchSummary {
  count: number;
  valid: number;
  inserted: number;
  duplicates: number;
  deadLettered: number;
  /** Keyed like the MSK event: "<topic>-<partition>". */
  partitions: Record<string, PartitionRange>;
  ms: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function cut(text: string): string {
  return text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS - 1)}…` : text;
}

/** Decodes and validates one record; pure. */
export function classifyRecord(record: DecodedRecord): ValidRecord | PoisonRecord {
  if (record.value.length > MAX_RECORD_BYTES) {
    return { record, reason: "oversized", detail: `value is ${record.value.length} bytes, limit ${MAX_RECORD_BYTES}` };
  }
  if (record.value.length === 0) return { record, reason: "undecodable", detail: "empty value" };
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(record.value));
  } catch (error) {
    return { record, reason: "undecodable", detail: cut(`not UTF-8 JSON: ${(error as Error).message}`) };
  }
  const parsed = TransactionMessage.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join(".") || "$"}: ${issue.message}`);
    return { record, reason: "invalid", detail: cut(issues.join("; ")) };
  }
  return { record, message: parsed.data };
}

export function isPoison(result: ValidRecord | PoisonRecord): result is PoisonRecord {
  return "reason" in result;
}

/** A valid message as a row: status Completed, its Kafka coordinates; persisted_at is the storing transaction's now(). */
export function toTransactionRow({ record, message }: ValidRecord): NewTransactionRow {
  return {
    id: message.id,
    ...message.transaction,
    status: "Completed",
    receivedAt: new Date(message.receivedAt),
    kafkaTopic: record.topic,
    kafkaPartition: record.partition,
    kafkaOffset: record.offset,
    idempotencyFingerprint: message.fingerprint,
  };
}

export function partitionRanges(records: DecodedRecord[]): Record<string, PartitionRange> {
  const ranges: Record<string, PartitionRange> = {};
  for (const { topic, partition, offset } of records) {
    const name = `${topic}-${partition}`;
    const range = ranges[name];
    if (!range) ranges[name] = { count: 1, firstOffset: offset, lastOffset: offset };
    else {
      range.count += 1;
      range.firstOffset = Math.min(range.firstOffset, offset);
      range.lastOffset = Math.max(range.lastOffset, offset);
    }
  }
  return ranges;
}

/** The dead-letter message: the original key and value bytes, the reason and the source in headers. */
export function toDeadLetterMessage({ record, reason, detail }: PoisonRecord): Message {
  const headers: IHeaders = {
    ...record.headers,
    "dead-letter-reason": reason,
    "dead-letter-detail": detail,
    "source-topic": record.topic,
    "source-partition": String(record.partition),
    "source-offset": String(record.offset),
    "source-timestamp": String(record.timestamp),
  };
  return {
    key: record.key,
    // An oversized value would be refused by the broker again; the table keeps it.
    value: reason === "oversized" ? null : record.value,
    headers,
  };
}

let deadLetterTopicReady: Promise<unknown> | undefined;

/** Created once per process the first time a record is dead-lettered (the producer never auto-creates topics). */
function ensureDeadLetterTopic(topic: string): Promise<unknown> {
  deadLetterTopicReady ??= ensureTopics([topic]).catch((error) => {
    deadLetterTopicReady = undefined;
    throw error;
  });
  return deadLetterTopicReady;
}

export interface ConsumeOptions {
  db?: Database;
  deadLetterTopic?: string;
}

/**
 * The consume function's domain step: MSK event -> decode and validate each record -> one database
 * transaction that inserts the valid rows (ON CONFLICT (id) DO NOTHING, chunks of <= 3,000 rows) and
 * the poison records' dead letters (ON CONFLICT (topic, partition, offset) DO NOTHING) -> produce the
 * dead letters. Idempotent: delivering the same batch again stores nothing twice.
 * Throws on database or broker errors, so the caller (Lambda or the local poller) retries the batch.
 */
export async function persistMskEvent(event: MSKEvent, options: ConsumeOptions = {}): Promise<BatchSummary> {
  const started = performance.now();
  const db = options.db ?? getDb();
  const deadLetterTopic = options.deadLetterTopic ?? config.DEAD_LETTER_TOPIC;

  const records = decodeMskEvent(event);
  const valid: ValidRecord[] = [];
  const poison: PoisonRecord[] = [];
  for (const record of records) {
    const result = classifyRecord(record);
    if (isPoison(result)) {
      poison.push(result);
      log.warn(
        { topic: record.topic, partition: record.partition, offset: record.offset, reason: result.reason, detail: result.detail },
        "poison record",
      );
    } else {
      valid.push(result);
      log.debug(
        { id: result.message.id, topic: record.topic, partition: record.partition, offset: record.offset },
        "message received",
      );
    }
  }

  let inserted = 0;
  if (records.length > 0) {
    await db.transaction(async (tx) => {
      inserted = await insertTransactions(tx, valid.map(toTransactionRow));
      if (poison.length > 0) {
        await tx
          .insert(deadLetters)
          .values(
            poison.map(({ record, reason, detail }) => ({
              topic: record.topic,
              partition: record.partition,
              offset: record.offset,
              key: record.key,
              value: record.value.toString("base64"),
              reason,
              detail,
            })),
          )
          .onConflictDoNothing({ target: [deadLetters.topic, deadLetters.partition, deadLetters.offset] });
      }
    });
  }
  for (const { record, message } of valid) {
    log.debug({ id: message.id, topic: record.topic, partition: record.partition, offset: record.offset }, "saved to DB");
  }
  // After the commit: a produce failure retries the batch, and the inserts above are idempotent.
  // Every poison record of the batch is produced again on redelivery, so the topic has each at least once.
  if (poison.length > 0) {
    await ensureDeadLetterTopic(deadLetterTopic);
    await produce(deadLetterTopic, poison.map(toDeadLetterMessage));
  }

  const summary: BatchSummary = {
    count: records.length,
    valid: valid.length,
    inserted,
    duplicates: valid.length - inserted,
    deadLettered: poison.length,
    partitions: partitionRanges(records),
    ms: Math.round(performance.now() - started),
  };
  log.info(summary, "batch persisted");
  return summary;
}
