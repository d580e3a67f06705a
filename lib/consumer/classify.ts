import { type DecodedRecord, decodeMskEvent } from "../kafka/msk-event.js";
import { TransactionMessage } from "../transaction.js";
import type { PoisonReason } from "./reasons.js";

/**
 * Policy for records that can never be stored (poison): they are neither retried (that would block
 * their partition forever) nor dropped silently. Each one is written to the dead_letters table in the
 * same database transaction as the batch's good rows, then produced to DEAD_LETTER_TOPIC with the
 * reason in headers; the rest of the batch is stored and the partition keeps flowing.
 * A database or broker error is not poison: it is thrown, so the whole batch is retried.
 */
/** Larger values are dead-lettered unread: Kafka's default message.max.bytes is about 1 MiB. */
export const MAX_RECORD_BYTES = 1024 * 1024;
/** How much later than its Kafka timestamp a record's receivedAt may be (clocks of producer and broker differ a little). */
export const MAX_RECEIVED_AT_SKEW_MS = 60_000;
/** Dead-letter detail (DB column and header) is cut to this many characters. */
const MAX_DETAIL_CHARS = 1_000;

export interface PoisonRecord {
  record: DecodedRecord;
  reason: PoisonReason;
  detail: string;
  /** The transaction id the record names, when it names a valid one (to answer GET /transactions/{id}). */
  transactionId?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The `id` of a decoded message that failed validation, if it is a UUID. */
function namedId(json: unknown): string | undefined {
  const id = json !== null && typeof json === "object" ? (json as { id?: unknown }).id : undefined;
  return typeof id === "string" && UUID.test(id) ? id.toLowerCase() : undefined;
}

export interface ValidRecord {
  record: DecodedRecord;
  message: TransactionMessage;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Text safe for a PostgreSQL text column and a log line, at most `max` characters: NUL (which text
 * columns refuse, failing the whole batch) and other control characters are escaped, never copied raw.
 */
export function safeText(text: string, max = MAX_DETAIL_CHARS): string {
  const short = text.length > max ? `${text.slice(0, max - 1)}…` : text;
  let safe = "";
  for (const char of short) {
    const code = char.charCodeAt(0);
    const control = (code < 0x20 && char !== "\t" && char !== "\n" && char !== "\r") || code === 0x7f;
    safe += control ? `\\u${code.toString(16).padStart(4, "0")}` : char;
  }
  return safe;
}

const cut = (text: string) => safeText(text);

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
    return { record, reason: "invalid", detail: cut(issues.join("; ")), transactionId: namedId(json) };
  }
  // The API stamps receivedAt just before it produces, so the record's Kafka timestamp is later. One from the
  // future would pin the top of every newest-first read for as long as the log lives.
  const receivedAt = Date.parse(parsed.data.receivedAt);
  if (record.timestamp > 0 && receivedAt > record.timestamp + MAX_RECEIVED_AT_SKEW_MS) {
    return {
      record,
      reason: "invalid",
      detail: `receivedAt: ${parsed.data.receivedAt} is later than the record's Kafka timestamp (${new Date(record.timestamp).toISOString()}) by more than ${MAX_RECEIVED_AT_SKEW_MS / 1000} s`,
      transactionId: parsed.data.id,
    };
  }
  return { record, message: parsed.data };
}

export function isPoison(result: ValidRecord | PoisonRecord): result is PoisonRecord {
  return "reason" in result;
}

/** One typed step: the event's records, each decoded and validated, split into the storable and the poison. */
export function decodeBatch(event: unknown): { records: DecodedRecord[]; valid: ValidRecord[]; poison: PoisonRecord[] } {
  const records = decodeMskEvent(event);
  const valid: ValidRecord[] = [];
  const poison: PoisonRecord[] = [];
  for (const record of records) {
    const result = classifyRecord(record);
    if (isPoison(result)) poison.push(result);
    else valid.push(result);
  }
  return { records, valid, poison };
}
