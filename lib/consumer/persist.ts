import type { MSKEvent } from "aws-lambda";
import type pg from "pg";
import { config } from "../config.js";
import { type Database, getDb, type Transaction, transactionOnConnection } from "../db/client.js";
import type { NewTransactionRow, TransactionRow } from "../db/schema.js";
import { insertNewTransactions, readStoredRows } from "../db/transactions.js";
import { asDependencyError, classifyFailure, describeFailure } from "../failures.js";
import type { DecodedRecord } from "../kafka/msk-event.js";
import { logger } from "../logger.js";
import { metrics, observeHandler } from "../metrics.js";
import { toPlainDecimal } from "../money.js";
import { decodeBatch, type PoisonRecord, type ValidRecord } from "./classify.js";
import { insertDeadLetters, publishDeadLetters } from "./dead-letters.js";

const log = logger.child({ component: "consume" });

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

/** A valid message as a row: status Completed, its Kafka coordinates; persisted_at is the storing batch's instant (lib/db/chain.ts). */
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

/** The stored row's transaction, in the message's canonical form (money as plain decimals), to compare. */
function storedContent(row: TransactionRow): string {
  return JSON.stringify([
    row.step,
    row.type,
    toPlainDecimal(row.amount),
    row.nameOrig,
    toPlainDecimal(row.oldbalanceOrg),
    toPlainDecimal(row.newbalanceOrig),
    row.nameDest,
    toPlainDecimal(row.oldbalanceDest),
    toPlainDecimal(row.newbalanceDest),
    row.isFraud,
    row.isFlaggedFraud,
  ]);
}

function messageContent({ transaction: t }: ValidRecord["message"]): string {
  return JSON.stringify([
    t.step,
    t.type,
    t.amount,
    t.nameOrig,
    t.oldbalanceOrg,
    t.newbalanceOrig,
    t.nameDest,
    t.oldbalanceDest,
    t.newbalanceDest,
    t.isFraud,
    t.isFlaggedFraud,
  ]);
}

/**
 * Of the valid records whose id was already stored, the ones that are not a redelivery of the same
 * transaction: with an Idempotency-Key, another fingerprint (the key was reused with another body);
 * without one, other content under the same id. They are dead-lettered, never silently skipped.
 */
async function findConflicts(db: Pick<Database, "select">, repeated: ValidRecord[]): Promise<PoisonRecord[]> {
  const stored = await readStoredRows(db, [...new Set(repeated.map(({ message }) => message.id))]);
  const conflicts: PoisonRecord[] = [];
  for (const candidate of repeated) {
    const { record, message } = candidate;
    const row = stored.get(message.id);
    if (!row) continue;
    if (message.fingerprint !== undefined || row.idempotencyFingerprint !== null) {
      if (row.idempotencyFingerprint !== (message.fingerprint ?? null)) {
        conflicts.push({
          record,
          reason: "idempotency-conflict",
          transactionId: message.id,
          detail: `id ${message.id} is stored with another request body under the same Idempotency-Key`,
        });
      }
    } else if (storedContent(row) !== messageContent(message)) {
      conflicts.push({
        record,
        reason: "id-conflict",
        detail: `id ${message.id} is stored with other content`,
        transactionId: message.id,
      });
    }
  }
  return conflicts;
}

export interface ConsumeOptions {
  db?: Database;
  deadLetterTopic?: string;
}

/**
 * The consume function's domain step: MSK event -> decode and validate each record -> one database
 * transaction that stores the valid rows (one COPY; ON CONFLICT (id) DO NOTHING when some were stored before) and
 * the poison records' dead letters (ON CONFLICT (topic, partition, offset) DO NOTHING) -> produce the
 * dead letters. Idempotent: delivering the same batch again stores nothing twice.
 * Only content is poison: a database or broker outage is thrown as DependencyUnavailableError, whatever its
 * length, so the caller (Lambda or the local trigger) retries the batch until it is stored.
 */
export async function persistMskEvent(event: MSKEvent, options: ConsumeOptions = {}): Promise<BatchSummary> {
  const started = performance.now();
  try {
    const { summary, deadLettered } = await persistBatch(event, options, started);
    observeBatch(summary, deadLettered);
    return summary;
  } catch (error) {
    metrics().batches.inc({ outcome: "failed" });
    throw error;
  } finally {
    observeHandler("consume", started);
  }
}

/** The batch's counts as Prometheus metrics (lib/metrics.ts). */
function observeBatch(summary: BatchSummary, deadLettered: PoisonRecord[]): void {
  const current = metrics();
  current.batches.inc({ outcome: "stored" });
  current.recordsConsumed.inc(summary.count);
  current.recordsStored.inc(summary.inserted);
  current.recordsDuplicate.inc(summary.duplicates);
  for (const { reason } of deadLettered) current.deadLetters.inc({ reason });
}

interface StoredBatch {
  inserted: number;
  /** Valid records the database itself refused (a value the schema accepts but a column or constraint does not). */
  rejected: PoisonRecord[];
  conflicts: PoisonRecord[];
}

interface Inserted {
  /** Ids new to the table. */
  newIds: Set<string>;
  /** The valid records the database took (new or not). */
  accepted: ValidRecord[];
  rejected: PoisonRecord[];
}

/** The fast path: the valid rows in one COPY (ON CONFLICT (id) DO NOTHING when some were stored before). */
async function insertAll(tx: Transaction, valid: ValidRecord[], connection: pg.ClientBase): Promise<Inserted> {
  return { newIds: await insertNewTransactions(tx, valid.map(toTransactionRow), connection), accepted: valid, rejected: [] };
}

/**
 * Each row under a savepoint of its own, so a row the database refuses for its content (SQLSTATE class 22 or
 * 23) is dead-lettered alone instead of failing the batch; any other failure fails the transaction.
 */
async function insertEach(tx: Transaction, valid: ValidRecord[]): Promise<Inserted> {
  const inserted: Inserted = { newIds: new Set(), accepted: [], rejected: [] };
  for (const candidate of valid) {
    try {
      const ids = await tx.transaction((savepoint) => insertNewTransactions(savepoint, [toTransactionRow(candidate)]));
      for (const id of ids) inserted.newIds.add(id);
      inserted.accepted.push(candidate);
    } catch (error) {
      if (classifyFailure(error) !== "content") throw error;
      inserted.rejected.push({
        record: candidate.record,
        reason: "rejected",
        detail: `the database refused it: ${describeFailure(error)}`,
        transactionId: candidate.message.id,
      });
    }
  }
  return inserted;
}

/** One database transaction: the valid rows (inserted by `insert`), the conflicts among repeated ids, and the dead letters. */
async function storeBatch(
  db: Database,
  valid: ValidRecord[],
  poison: PoisonRecord[],
  insert: (tx: Transaction, valid: ValidRecord[], connection: pg.ClientBase) => Promise<Inserted>,
): Promise<StoredBatch> {
  return transactionOnConnection(db, async (tx, connection) => {
    const { newIds, accepted, rejected } = await insert(tx, valid, connection);
    // An id new to the table was stored from its first record in the batch (rows insert in order); every
    // other record with that id, and every record of an id stored before, is a repeat to compare.
    const firstOfNew = new Set<string>();
    const repeated = accepted.filter(({ message }) => {
      if (!newIds.has(message.id) || firstOfNew.has(message.id)) return true;
      firstOfNew.add(message.id);
      return false;
    });
    const conflicts = repeated.length > 0 ? await findConflicts(tx, repeated) : [];
    await insertDeadLetters(tx, [...poison, ...rejected, ...conflicts]);
    return { inserted: newIds.size, rejected, conflicts };
  });
}

/**
 * Stores the batch; a database outage is thrown as DependencyUnavailableError (retry the batch, never
 * dead-letter it), a content refusal makes a second, row-by-row attempt that dead-letters the refused rows.
 */
async function storeOrClassify(db: Database, valid: ValidRecord[], poison: PoisonRecord[]): Promise<StoredBatch> {
  try {
    return await storeBatch(db, valid, poison, insertAll);
  } catch (error) {
    if (classifyFailure(error) !== "content") throw asDependencyError("database", error);
  }
  try {
    return await storeBatch(db, valid, poison, insertEach);
  } catch (error) {
    throw asDependencyError("database", error);
  }
}

async function persistBatch(
  event: MSKEvent,
  options: ConsumeOptions,
  started: number,
): Promise<{ summary: BatchSummary; deadLettered: PoisonRecord[] }> {
  const db = options.db ?? getDb();
  const deadLetterTopic = options.deadLetterTopic ?? config.DEAD_LETTER_TOPIC;

  const { records, valid, poison } = decodeBatch(event);
  // Reason and place only: a detail can quote the record (a JSON parse error does), and record contents
  // (amounts, account names) never go into logs; the dead_letters row keeps it.
  for (const { record, reason } of poison) {
    log.warn({ topic: record.topic, partition: record.partition, offset: record.offset, reason }, "poison record");
  }

  const { inserted, rejected, conflicts } =
    records.length > 0 ? await storeOrClassify(db, valid, poison) : { inserted: 0, rejected: [], conflicts: [] };
  for (const { record, reason } of [...rejected, ...conflicts]) {
    log.warn({ topic: record.topic, partition: record.partition, offset: record.offset, reason }, "record not stored");
  }
  const deadLettered = [...poison, ...rejected, ...conflicts];
  // After the commit: a produce failure retries the batch, and the inserts above are idempotent.
  // Every poison record of the batch is produced again on redelivery, so the topic has each at least once.
  try {
    await publishDeadLetters(deadLetterTopic, deadLettered);
  } catch (error) {
    throw asDependencyError("kafka", error);
  }

  const summary: BatchSummary = {
    count: records.length,
    valid: valid.length,
    inserted,
    duplicates: valid.length - inserted - conflicts.length - rejected.length,
    deadLettered: deadLettered.length,
    partitions: partitionRanges(records),
    ms: Math.round(performance.now() - started),
  };
  log.info(summary, "batch persisted");
  return { summary, deadLettered };
}
