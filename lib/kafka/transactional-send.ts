import { CompressionTypes, type Transaction } from "kafkajs";
import { TimeoutError } from "../errors.js";
import { logger } from "../logger.js";
import { withTimeout } from "../timeout.js";
import type { ProducerSlot } from "./producer-slot.js";
import { byTopic, callersOf, type PendingSend } from "./send-queue.js";
import { budgetOf, type SendContext } from "./send-strategy.js";

const log = logger.child({ component: "producer" });

/** How long an abort request is waited for before the producer is replaced (which aborts too). */
const ABORT_TIMEOUT_MS = 2_000;

/**
 * The batch as one Kafka transaction: stored whole or not at all for read_committed consumers. Commit ->
 * every caller resolves; abort or failure -> every one gets the error and none of its messages is ever
 * visible. Until the commit request is sent, a caller past its budget is abandoned: the transaction aborts
 * and the others are queued again for a new one. Once sent, the commit's outcome decides, waited for at most
 * commitTimeoutMs; a commit whose answer never came may still have been committed by the broker.
 */
export async function sendInTransaction(context: SendContext, batch: PendingSend[]): Promise<void> {
  const { slot, stats } = context;
  const used = slot.connected();
  const opened: { transaction?: Transaction } = {};
  const sent = (async () => {
    const producer = await used;
    const partitions = await context.partitions.split(callersOf(batch));
    // The producer's first transaction() also gets its producer id and epoch (InitProducerId).
    const transaction = await producer.transaction();
    opened.transaction = transaction;
    // One partition after another: each send first adds its partition to the transaction, and the
    // coordinator refuses a second AddPartitionsToTxn while the first is being written (CONCURRENT_TRANSACTIONS).
    for (const { topic, messages } of partitions) {
      await transaction.sendBatch({ topicMessages: [{ topic, messages }], acks: -1, compression: CompressionTypes.None });
    }
    return transaction;
  })();
  let transaction: Transaction;
  try {
    // Past the last caller's budget nobody waits for this send any more.
    transaction = await withTimeout(sent, budgetOf(batch), "producing to Kafka");
  } catch (error) {
    stats.failed += 1;
    log.warn(
      { err: error, callers: batch.length, transactionalId: slot.transactionalId },
      "transaction failed before its commit; aborting it",
    );
    for (const entry of batch) entry.settle(error);
    if (error instanceof TimeoutError) {
      // Still in flight: no abort racing it; the successor's InitProducerId fences it and aborts the transaction.
      slot.replace(used, sent);
    } else {
      // Refused (e.g. a record batch too large): abort now so consumers need not wait for the successor.
      const { request } = await abort(slot, opened.transaction);
      slot.replace(used, request);
    }
    return;
  }
  await context.beforeCommit?.(byTopic(batch));
  if (batch.some((entry) => entry.state === "abandoned")) {
    // A caller was told 503 before the commit: abort, and queue the others again for a new transaction.
    context.queue.requeue(batch.filter((entry) => entry.state === "sending"));
    stats.abortedAbandoned += 1;
    const { aborted, request } = await abort(slot, transaction);
    if (!aborted) slot.replace(used, request);
    return;
  }
  // From here on the commit's outcome decides for every caller of the send.
  for (const entry of batch) entry.state = "committing";
  const commit = transaction.commit();
  try {
    await withTimeout(commit, context.commitTimeoutMs, "committing the Kafka transaction");
    stats.committed += 1;
    for (const entry of batch) entry.settle();
  } catch (error) {
    stats.failed += 1;
    const unknownOutcome = error instanceof TimeoutError;
    log.error(
      {
        err: error,
        callers: batch.length,
        topics: byTopic(batch).map(({ topic, messages }) => ({ topic, count: messages.length })),
        transactionalId: slot.transactionalId,
        unknownOutcome,
      },
      unknownOutcome
        ? "commit not answered in time: its callers got 503, yet the broker may have committed it"
        : "commit refused: the transaction is aborted",
    );
    for (const entry of batch) entry.settle(error);
    slot.replace(used, commit);
  }
}

/** Aborts `transaction` if it is open, waiting at most ABORT_TIMEOUT_MS; `request` settles when the broker answered. */
async function abort(
  slot: ProducerSlot,
  transaction: Transaction | undefined,
): Promise<{ aborted: boolean; request: Promise<unknown> }> {
  if (!transaction?.isActive()) return { aborted: false, request: Promise.resolve() };
  const request = transaction.abort();
  try {
    await withTimeout(request, ABORT_TIMEOUT_MS, "aborting the Kafka transaction");
    return { aborted: true, request };
  } catch (error) {
    log.warn({ err: error, transactionalId: slot.transactionalId }, "abort failed; the next producer aborts it");
    return { aborted: false, request };
  }
}
