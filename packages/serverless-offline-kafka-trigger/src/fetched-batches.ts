import type { Consumer, EachBatchPayload } from "kafkajs";
import type { Batcher } from "./batcher.js";
import { chunksOf, PendingCommits } from "./chunks.js";
import { throughTrailingControlRecords } from "./control-records.js";
import type { TriggerLogger } from "./logger.js";
import { coordinatorLost, type GroupMembership } from "./membership.js";
import type { EmitMetric } from "./metrics.js";
import type { PollerDefinition, PollerStats } from "./poller-options.js";

export interface FetchedBatchesOptions {
  definition: PollerDefinition;
  batcher: Batcher;
  membership: GroupMembership;
  heartbeatIntervalMs: number;
  log: TriggerLogger;
  stats: PollerStats;
  emit: EmitMetric;
  isStopping: () => boolean;
}

/**
 * KafkaJS's side of the poller: each fetched partition batch (eachBatch) is filtered and cut into chunks,
 * handed to the Batcher, and committed once the event holding it succeeded. The member keeps heart-beating
 * while it waits, and stops submitting at a rebalance, a revoked partition or stop.
 */
export class FetchedBatches {
  private readonly options: FetchedBatchesOptions;
  private readonly pendingCommits = new PendingCommits();

  constructor(options: FetchedBatchesOptions) {
    this.options = options;
  }

  /** False while a commit of the partition waits for its event (a batching window is open). */
  settled(topic: string, partition: number): boolean {
    return !this.pendingCommits.waiting(`${topic}-${partition}`);
  }

  /** Resolves when every commit waiting for its event has been made or refused. */
  commitsSettled(): Promise<void> {
    return this.pendingCommits.settled();
  }

  /** One fetched batch of `consumer` (the one it came from: a commit that fails names it, not its successor). */
  async handle(payload: EachBatchPayload, consumer: Consumer): Promise<void> {
    const { definition, batcher, membership, heartbeatIntervalMs, stats, emit, isStopping } = this.options;
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    if (membership.isRetired(consumer)) return;
    const start = membership.takeStartOffset(batch.partition);
    if (start !== undefined && BigInt(batch.firstOffset() ?? "0") < start) {
      // AT_TIMESTAMP and nothing committed yet: begin at the first record at or after the timestamp.
      consumer.seek({ topic: batch.topic, partition: batch.partition, offset: start.toString() });
      return;
    }
    // While the batch waits the member must keep heart-beating or the group evicts it. heartbeat() sends at
    // most one per heartbeatInterval, so ticking at half of it keeps the gap below 1.5 intervals. A heartbeat
    // refused because the group is rebalancing: finish the chunk in flight, start no other.
    let rebalancing = false;
    const beat = () =>
      heartbeat().catch((error: unknown) => {
        if (isRebalancing(error)) rebalancing = true;
      });
    const keepAlive = setInterval(beat, Math.ceil(heartbeatIntervalMs / 2));
    try {
      const { chunks: fetched, filteredOut } = chunksOf(batch.messages, definition);
      emit("PolledEventCount", batch.messages.length);
      emit("FilteredOutEventCount", filteredOut);
      stats.filteredOut += filteredOut;
      const chunks = throughTrailingControlRecords(fetched, batch.lastOffset());
      for (const [index, { deliver, through }] of chunks.entries()) {
        if (index > 0) await beat();
        // Stopping, a rebalance, or the partition was revoked: leave the rest uncommitted for the next owner.
        if (isStopping() || rebalancing || !isRunning() || isStale()) return;
        const commit = () => this.commit(consumer, payload, through);
        if (deliver.length > 0) {
          const settled = batcher.submit(batch.topic, batch.partition, deliver);
          if (batcher.gathering(batch.topic, batch.partition)) {
            // A batching window is open with room for more of this partition: let KafkaJS fetch on (it does
            // only once this call returns) and commit when the event holding these records has succeeded.
            resolveOffset(through);
            this.pendingCommits.track(
              `${batch.topic}-${batch.partition}`,
              settled.then((delivered) => (delivered ? commit() : false)),
            );
            continue;
          }
          if (!(await settled)) return;
        }
        resolveOffset(through);
        if (!(await commit())) return;
      }
    } finally {
      clearInterval(keepAlive);
    }
  }

  /** Commits the batch's partition through `through`; false when the broker refused (a rebalance). */
  private async commit(
    consumer: Consumer,
    { batch, commitOffsetsIfNecessary }: EachBatchPayload,
    through: string,
  ): Promise<boolean> {
    const { topic, partition } = batch;
    const offset = (BigInt(through) + 1n).toString();
    try {
      await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset }] }] });
      const lag = Number(BigInt(batch.highWatermark) - BigInt(offset));
      this.options.emit("OffsetLag", Math.max(0, lag), { partition });
      return true;
    } catch (error) {
      // Usually a rebalance: the next owner redelivers from the last commit (at least once).
      this.options.log.warn({ err: error, partition, offset }, "commit failed; records will be redelivered");
      // KafkaJS keeps the coordinator it found when it joined and sends every commit there until the member
      // rejoins, which a member that goes on consuming never does. A new member finds the current coordinator.
      if (coordinatorLost(error))
        this.options.membership.replace(consumer, 0, "group coordinator lost: rejoining the group with a new consumer");
      return false;
    }
  }
}

/** KafkaJS's own test (not exported): the group moved on to a new generation or is forming one. */
function isRebalancing(error: unknown): boolean {
  const type = (error as { type?: unknown } | null)?.type;
  return (
    type === "REBALANCE_IN_PROGRESS" ||
    type === "ILLEGAL_GENERATION" ||
    type === "NOT_COORDINATOR_FOR_GROUP" ||
    type === "UNKNOWN_MEMBER_ID"
  );
}
