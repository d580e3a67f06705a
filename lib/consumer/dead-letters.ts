import { inArray, sql } from "drizzle-orm";
import type { IHeaders, Message } from "kafkajs";
import type { Database } from "../db/client.js";
import { deadLetters } from "../db/schema.js";
import { ensureTopics } from "../kafka/admin.js";
import { produce } from "../kafka/producer.js";
import { type PoisonRecord, safeText } from "./classify.js";
import { type DeadLetterReason, OnFailureReason } from "./reasons.js";

/** Dead-letter rows per INSERT: 7 parameters a row stays far below PostgreSQL's 65,535 bind parameters. */
export const MAX_DEAD_LETTERS_PER_INSERT = 1_000;
/**
 * Largest dead-letter message produced whole. The broker refuses messages over message.max.bytes (1 MiB by
 * default), and a dead letter adds headers to a record that may already be near it: above this size the
 * topic copy carries a reference instead of the value (the table keeps the original bytes, base64).
 */
export const MAX_DEAD_LETTER_MESSAGE_BYTES = 512 * 1024;
/** Original headers and keys are cut to this many characters in the table (the topic copy keeps them as bytes). */
const MAX_KEY_CHARS = 1_000;

const headerBytes = (headers: IHeaders) =>
  Object.entries(headers).reduce(
    (sum, [name, value]) => sum + name.length + (Buffer.isBuffer(value) ? value.length : Buffer.byteLength(String(value ?? ""))),
    0,
  );

/** A record given up on, as both dead-letter paths know it: the consume function's and the trigger's on-failure destination. */
export interface DeadLetterSource {
  topic: string;
  partition: number;
  offset: number | string;
  timestamp: number | string;
  key: Buffer | string | null;
  value: Buffer | null;
  /** The record's own headers, kept on the dead letter. */
  headers?: IHeaders;
  reason: DeadLetterReason;
  detail: string;
  /** Headers added after the standard ones (the trigger's dead-letter-function). */
  extra?: IHeaders;
  /** Always send a reference, whatever the size (an oversized record is never sent again). */
  reference?: boolean;
}

/**
 * The one builder of every dead-letter message: the original key, value and headers, the reason and the
 * source in headers; above MAX_DEAD_LETTER_MESSAGE_BYTES a reference to the source offset instead of the
 * value (dead_letters keeps the original bytes of the consumer's, the source topic those of the trigger's).
 */
export function deadLetterMessage(source: DeadLetterSource): Message {
  const context: IHeaders = {
    "dead-letter-reason": source.reason,
    "dead-letter-detail": source.detail,
    ...source.extra,
    "source-topic": source.topic,
    "source-partition": String(source.partition),
    "source-offset": String(source.offset),
    "source-timestamp": String(source.timestamp),
  };
  const whole: Message = { key: source.key, value: source.value, headers: { ...source.headers, ...context } };
  const bytes =
    (source.value?.length ?? 0) +
    (source.key === null ? 0 : Buffer.byteLength(source.key)) +
    headerBytes(whole.headers as IHeaders);
  if (!source.reference && bytes <= MAX_DEAD_LETTER_MESSAGE_BYTES) return whole;
  return {
    key: source.key !== null && Buffer.byteLength(source.key) <= MAX_KEY_CHARS ? source.key : null,
    value: null,
    headers: {
      ...context,
      "dead-letter-value": `omitted (${bytes} bytes with headers); read the original at the source offset, or in dead_letters (topic, partition, offset)`,
    },
  };
}

/** The consume function's dead-letter message of a poison record. */
export function toDeadLetterMessage({ record, reason, detail }: PoisonRecord): Message {
  return deadLetterMessage({ ...record, reason, detail, reference: reason === "oversized" });
}

/** The dead_letters rows of poison records: the raw value base64, text columns made safe for PostgreSQL. */
export function toDeadLetterRows(poison: PoisonRecord[]): (typeof deadLetters.$inferInsert)[] {
  return poison.map(({ record, reason, detail, transactionId }) => ({
    topic: safeText(record.topic, MAX_KEY_CHARS),
    partition: record.partition,
    offset: record.offset,
    key: record.key === null ? null : safeText(record.key, MAX_KEY_CHARS),
    value: record.value.toString("base64"),
    reason,
    detail: safeText(detail),
    transactionId: transactionId ?? null,
  }));
}

/**
 * Inserts the dead letters (a redelivered offset adds none), in statements under the parameter limit.
 * The consume function's row wins its source offset: a row imported from the dead-letter topic there (an
 * on-failure reason, which anyone able to write that topic can claim) is replaced, never the other way.
 */
export async function insertDeadLetters(db: Pick<Database, "insert">, poison: PoisonRecord[]): Promise<void> {
  const rows = toDeadLetterRows(poison);
  for (let start = 0; start < rows.length; start += MAX_DEAD_LETTERS_PER_INSERT) {
    await db
      .insert(deadLetters)
      .values(rows.slice(start, start + MAX_DEAD_LETTERS_PER_INSERT))
      .onConflictDoUpdate({
        target: [deadLetters.topic, deadLetters.partition, deadLetters.offset],
        set: {
          key: sql`excluded.key`,
          value: sql`excluded.value`,
          reason: sql`excluded.reason`,
          detail: sql`excluded.detail`,
          transactionId: sql`excluded.transaction_id`,
          createdAt: sql`now()`,
          redrivenAt: null,
        },
        setWhere: inArray(deadLetters.reason, OnFailureReason.options),
      });
  }
}

const topicsReady = new Map<string, Promise<unknown>>();

/** Created once per process the first time a record is dead-lettered to it (the producer never auto-creates topics). */
function ensureDeadLetterTopic(topic: string): Promise<unknown> {
  let ready = topicsReady.get(topic);
  if (!ready) {
    ready = ensureTopics([topic]).catch((error) => {
      topicsReady.delete(topic);
      throw error;
    });
    topicsReady.set(topic, ready);
  }
  return ready;
}

/**
 * Produces the dead letters to `topic` (created on first use); resolves once the broker acknowledged them.
 * One produce call per message: the producer coalesces calls up to its send size, never past it, so large
 * dead letters never add up to a request the broker refuses.
 */
export async function publishDeadLetters(topic: string, poison: PoisonRecord[]): Promise<void> {
  if (poison.length === 0) return;
  await ensureDeadLetterTopic(topic);
  await Promise.all(poison.map((one) => produce(topic, [toDeadLetterMessage(one)])));
}
