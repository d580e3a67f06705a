import type { TopicMessages } from "kafkajs";
import type { PartitionAssigner } from "./partitions.js";
import type { ProducerSlot } from "./producer-slot.js";
import type { PendingSend, SendQueue } from "./send-queue.js";

export interface ProducerStats {
  /** Sends acknowledged: transactions committed, or idempotent sends acked. */
  committed: number;
  /** Transactions aborted because a caller stopped waiting before the commit. */
  abortedAbandoned: number;
  /** Sends that failed (every caller of them got TransactionLogUnavailableError). */
  failed: number;
  /** Producers replaced after a failure (a new one fences the old and aborts its open transaction). */
  replaced: number;
  /** produce() calls refused because the queue was full. */
  refused: number;
}

/** What a send strategy works with: the producer, the partitions' leaders, the queue to put callers back in. */
export interface SendContext {
  readonly slot: ProducerSlot;
  readonly partitions: PartitionAssigner;
  readonly queue: SendQueue;
  readonly stats: ProducerStats;
  readonly commitTimeoutMs: number;
  /** Called once a transaction's messages are sent, before the commit decision: a seam for tests. */
  readonly beforeCommit?: (sent: TopicMessages[]) => Promise<void>;
}

/** Sends one coalesced batch of callers and settles each of them. */
export type SendStrategy = (context: SendContext, batch: PendingSend[]) => Promise<void>;

/** The time left until the last caller of `batch` gives up (at least 1 ms). */
export function budgetOf(batch: PendingSend[]): number {
  return Math.max(1, Math.max(...batch.map((entry) => entry.deadline)) - Date.now());
}
