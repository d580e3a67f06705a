import type { Consumer } from "kafkajs";
import type { TriggerLogger } from "./logger.js";

/**
 * Commits a partition past what a fetch returned when nothing in it is for the handler: the commit markers
 * of Kafka transactions (control records), and under read_committed the messages of aborted ones. Each
 * takes an offset. The poller commits through the last record it delivered, so a partition whose last write
 * was a transaction (every API write is one) would stay committed one offset short of its end forever, and
 * its lag read 1 while caught up. KafkaJS resolves such a batch's offset itself and emits END_BATCH_PROCESS
 * with batchSize 0, but commits it only under autoCommit, which the poller does not use.
 *
 * Safe: a partition's batches come one after another, so this commit is sent after the poller's commit of the
 * records before the marker, and before any later one (the same coordinator connection keeps their order);
 * only a batch holding records at or after the fetched offset counts (firstOffset not null), so a fetch that
 * returned nothing usable moves nothing. A refused commit (a rebalance) only leaves the marker to the next owner.
 */
export function commitPastControlRecords(
  consumer: Consumer,
  log: Pick<TriggerLogger, "debug">,
  /** False while records before the marker still wait uncommitted (held in a batching window): no commit then. */
  settled: (topic: string, partition: number) => boolean = () => true,
): void {
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    // KafkaJS's types say string; a fetch with no record at or after the fetched offset gives null.
    if (payload.batchSize !== 0 || (payload.firstOffset as string | null) === null) return;
    if (!settled(payload.topic, payload.partition)) return;
    const offset = (BigInt(payload.lastOffset) + 1n).toString();
    consumer
      .commitOffsets([{ topic: payload.topic, partition: payload.partition, offset }])
      .catch((error: unknown) =>
        log.debug({ err: error, partition: payload.partition, offset }, "commit past control records refused"),
      );
  });
}

/**
 * A fetched batch's chunks with the last one committed through the batch's last offset: past the commit
 * marker (and aborted messages) that end the fetch, which KafkaJS filters out of `batch.messages` but counts in
 * `batch.lastOffset()`. Without it, a partition whose last write was a transaction stays committed one
 * offset short of its end. Earlier chunks keep their own offsets.
 */
export function throughTrailingControlRecords<T extends { through: string }>(chunks: T[], batchLastOffset: string): T[] {
  const last = chunks.at(-1);
  if (!last || BigInt(batchLastOffset) <= BigInt(last.through)) return chunks;
  return [...chunks.slice(0, -1), { ...last, through: batchLastOffset }];
}
