import { randomBytes } from "node:crypto";
import type { Admin, Kafka, KafkaMessage } from "kafkajs";

/**
 * Reading a range of a topic, partition by partition: where a range starts and ends (offsets, or
 * instants through the broker's time index), and a reader that hands over each partition's records of
 * the range in order. Used by `npm run replay` and by `npm run dead-letters` (to import the trigger's
 * on-failure records from the dead-letter topic).
 */

/** Where a range starts or ends: an offset (the same on every partition) or an instant. */
export type Position = { offset: number } | { at: Date };

export class TopicRangeError extends Error {
  override name = "TopicRangeError";
}

/** "1234" is an offset; an ISO 8601 date or date-time is an instant; anything else is refused. */
export function parsePosition(text: string): Position {
  if (/^\d+$/.test(text) && Number.isSafeInteger(Number(text))) return { offset: Number(text) };
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    const at = new Date(text);
    if (!Number.isNaN(at.getTime())) return { at };
  }
  throw new TopicRangeError(
    `expected an offset (0, 1234) or an ISO date-time (2026-11-30T08:00:00Z), got ${JSON.stringify(text)}`,
  );
}

export function describePosition(position: Position): string {
  return "offset" in position ? `offset ${position.offset}` : position.at.toISOString();
}

/** One partition's records from `from` up to, not including, `to`. */
export interface PartitionRange {
  partition: number;
  from: number;
  to: number;
}

export interface RangeRequest {
  from: Position;
  /**
   * Where to stop: an offset is the last one read (inclusive); an instant reads the records written
   * before it. Default: the end of each partition when the range is resolved.
   */
  to?: Position;
  /** One partition only; default: every partition. */
  partition?: number;
}

/** The offset of each partition at `instant`: its first record written then or later (the end when none). */
async function offsetsAt(admin: Admin, topic: string, instant: Date): Promise<Map<number, number>> {
  const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, instant.getTime());
  return new Map(offsets.map(({ partition, offset }) => [partition, Number(offset)]));
}

/**
 * Turns a request into offsets per partition, clamped to what the partitions hold now (records past
 * retention are gone; the end is where the range stops at the latest). Throws TopicRangeError for a topic or
 * partition that does not exist.
 */
export async function resolveRanges(admin: Admin, topic: string, request: RangeRequest): Promise<PartitionRange[]> {
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) throw new TopicRangeError(`topic ${topic} does not exist`);
  const watermarks = await admin.fetchTopicOffsets(topic);
  const partitions = watermarks.filter(({ partition }) => request.partition === undefined || partition === request.partition);
  if (partitions.length === 0) {
    throw new TopicRangeError(`topic ${topic} has no partition ${request.partition} (partitions 0 to ${watermarks.length - 1})`);
  }
  const fromAt = "at" in request.from ? await offsetsAt(admin, topic, request.from.at) : undefined;
  const toAt = request.to && "at" in request.to ? await offsetsAt(admin, topic, request.to.at) : undefined;
  return partitions
    .map(({ partition, low, high }) => {
      const start = Number(low);
      const end = Number(high);
      const from = "offset" in request.from ? request.from.offset : (fromAt?.get(partition) ?? end);
      let to = end;
      if (request.to && "offset" in request.to) to = request.to.offset + 1;
      else if (toAt) to = toAt.get(partition) ?? end;
      const first = Math.min(Math.max(from, start), end);
      return { partition, from: first, to: Math.max(first, Math.min(to, end)) };
    })
    .sort((a, b) => a.partition - b.partition);
}

export interface ReadOptions {
  /** Gives up when no partition advanced for this long (default 30 s). */
  idleTimeoutMs?: number;
}

/**
 * Reads each range with a consumer group of its own (never committed, so it moves no other reader's
 * offsets) and calls `onRecords` with each partition's records of the range, in offset order, one
 * fetched batch at a time; the next batch of that partition waits for it. Reads committed records only,
 * as the pipeline's consumers do (aborted transactions and their markers take offsets but are skipped).
 */
export async function readRanges(
  kafka: Kafka,
  topic: string,
  ranges: PartitionRange[],
  onRecords: (partition: number, records: KafkaMessage[]) => Promise<void>,
  options: ReadOptions = {},
): Promise<void> {
  const pending = new Map(ranges.filter(({ from, to }) => from < to).map((range) => [range.partition, range]));
  if (pending.size === 0) return;
  // The next offset to read per partition: where a (re)join seeks to.
  const next = new Map([...pending.values()].map(({ partition, from }) => [partition, from]));
  const groupId = `txlog-range-reader-${randomBytes(6).toString("hex")}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250, readUncommitted: false });
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const idle = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          const left = [...pending.values()].map(({ partition, to }) => `${partition}: ${next.get(partition)}..${to - 1}`);
          reject(
            new TopicRangeError(`topic ${topic}: nothing read for ${idleTimeoutMs / 1000} s; still to read ${left.join(", ")}`),
          );
        }, idleTimeoutMs);
      };
      idle();
      // Seeks when the group is joined, before the first fetch (kafkajs drops what a fetch returns for a
      // partition with a seek pending); every other partition of the topic is paused.
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        const assigned = payload.memberAssignment[topic] ?? [];
        for (const partition of assigned) {
          const offset = next.get(partition);
          if (offset !== undefined && pending.has(partition)) consumer.seek({ topic, partition, offset: String(offset) });
        }
        const others = assigned.filter((partition) => !pending.has(partition));
        if (others.length) consumer.pause([{ topic, partitions: others }]);
      });
      // Emitted for every batch fetched, also one holding only transaction markers or aborted records.
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        const range = pending.get(payload.partition);
        if (payload.topic !== topic || !range) return;
        const position = Number(payload.lastOffset) + 1;
        // Only progress counts as activity: a fetch answering the same records again must end in the idle error.
        if (position > (next.get(range.partition) ?? 0)) {
          next.set(range.partition, position);
          idle();
        }
        if (position < range.to) return;
        pending.delete(range.partition);
        consumer.pause([{ topic, partitions: [range.partition] }]);
        if (pending.size === 0) resolve();
      });
      consumer
        .run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: async ({ batch, resolveOffset }) => {
            const range = pending.get(batch.partition);
            if (!range) return;
            const from = next.get(batch.partition) ?? range.from;
            const records = batch.messages.filter(({ offset }) => Number(offset) >= from && Number(offset) < range.to);
            if (records.length > 0) {
              try {
                await onRecords(batch.partition, records);
              } catch (error) {
                // The caller's failure ends the read (kafkajs would retry the batch and restart the consumer).
                pending.clear();
                reject(error);
                return;
              }
            }
            // Without auto-resolve KafkaJS fetches from the last resolved offset: unresolved, a range larger
            // than one fetch (1 MiB a partition) was fetched from the same offset forever.
            resolveOffset(batch.lastOffset());
          },
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
    const admin = kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteGroups([groupId]))
      .catch(() => {})
      .finally(() => admin.disconnect());
  }
}
