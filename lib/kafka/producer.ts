import type { Message } from "kafkajs";
import { config } from "../config.js";
import { ProduceQueueFullError } from "../errors.js";
import { observeProduce } from "../metrics.js";
import { CoalescingProducer, type ProducerStats } from "./coalescing-producer.js";

/** The process's producer for several messages at once: transactional, queue bounded by MAX_PENDING_PRODUCE_MESSAGES. */
const processProducer = new CoalescingProducer({
  transactional: true,
  maxPendingMessages: config.MAX_PENDING_PRODUCE_MESSAGES,
});

/**
 * The process's producer for one message at a time (POST /transaction, each dead letter): one record is
 * written or not on its own, so it needs no transaction, and an idempotent send costs one round trip where
 * a transaction costs three (bench stage 7: 50 concurrent single-message callers reach about twice the
 * acks/s without transactions).
 */
const singleMessageProducer = new CoalescingProducer({
  transactional: false,
  maxPendingMessages: config.MAX_PENDING_PRODUCE_MESSAGES,
});

/**
 * Produces messages to `topic` and resolves only once the broker acknowledged them (acks=all). Several
 * messages go in one Kafka transaction (shared with other callers' messages queued at the same time):
 * all committed or none visible to read_committed consumers. Throws ProduceQueueFullError when too many
 * messages wait, TransactionLogUnavailableError when Kafka refused or did not answer in time.
 */
export async function produce(topic: string, messages: Message[]): Promise<void> {
  const started = performance.now();
  try {
    await (messages.length === 1 ? singleMessageProducer : processProducer).produce(topic, messages);
    observeProduce("acked", messages.length, started);
  } catch (error) {
    observeProduce(error instanceof ProduceQueueFullError ? "refused" : "failed", messages.length, started);
    throw error;
  }
}

/** The transactional producer's counters (tests, diagnostics). */
export function producerStats(): Readonly<ProducerStats> {
  return processProducer.stats;
}

/** Disconnects this process's producers (a later produce connects again). */
export async function disconnectProducer(): Promise<void> {
  await Promise.all([processProducer.disconnect(), singleMessageProducer.disconnect()]);
}
