import type { MSKEvent } from "aws-lambda";
import type { Kafka, KafkaMessage } from "kafkajs";
import { buildMskEvent } from "serverless-offline-kafka-trigger";
import { config } from "../../lib/config.js";
import type { BatchSummary } from "../../lib/consumer/persist.js";
import { type PartitionRange, type RangeRequest, readRanges, resolveRanges } from "./range.js";

/**
 * Replay: a range of a topic read again and handed to the consume handler directly, in MSK events
 * exactly as the trigger builds them (at most `batchSize` records each, one partition per event).
 * Idempotent: ids already stored are skipped as duplicates (ON CONFLICT (id)), and a poison record's
 * dead letter is keyed by its source offset, so replaying a range twice stores and dead-letters nothing
 * twice. Nothing is produced to the topic again, no consumer group's offsets move, and the records keep
 * their own offsets in the rows.
 */

/** The consume function's batchSize (serverless.yml). */
export const DEFAULT_REPLAY_BATCH = 500;

/** The handler's part: an MSK event in, the batch's summary out (handlers/consume.handler by default). */
export type Invoke = (event: MSKEvent) => Promise<Partial<BatchSummary> | undefined>;

export interface ReplayOptions extends RangeRequest {
  kafka: Kafka;
  topic: string;
  invoke: Invoke;
  batchSize?: number;
  onProgress?: (read: number, total: number) => void;
}

export interface PartitionReplay {
  partition: number;
  /** The offsets of the range: from, up to and not including to. */
  from: number;
  to: number;
  read: number;
  inserted: number;
  duplicates: number;
  deadLettered: number;
}

export interface ReplaySummary {
  topic: string;
  /** Offsets in the ranges (transaction markers and aborted records take offsets but are not read). */
  offsets: number;
  read: number;
  invocations: number;
  inserted: number;
  duplicates: number;
  deadLettered: number;
  partitions: PartitionReplay[];
  ms: number;
}

/** The ranges a request names, resolved against the broker now. */
export async function replayRanges(kafka: Kafka, topic: string, request: RangeRequest): Promise<PartitionRange[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await resolveRanges(admin, topic, request);
  } finally {
    await admin.disconnect();
  }
}

export async function replay(options: ReplayOptions): Promise<ReplaySummary> {
  const started = performance.now();
  const batchSize = options.batchSize ?? DEFAULT_REPLAY_BATCH;
  const ranges = await replayRanges(options.kafka, options.topic, options);
  const partitions = new Map<number, PartitionReplay>(
    ranges.map(({ partition, from, to }) => [
      partition,
      { partition, from, to, read: 0, inserted: 0, duplicates: 0, deadLettered: 0 },
    ]),
  );
  const offsets = ranges.reduce((sum, { from, to }) => sum + (to - from), 0);
  let read = 0;
  let invocations = 0;
  const source = { bootstrapServers: config.KAFKA_BROKERS, eventSourceArn: `txlog-replay:${options.topic}` };
  await readRanges(options.kafka, options.topic, ranges, async (partition, records: KafkaMessage[]) => {
    const tally = partitions.get(partition) as PartitionReplay;
    for (let start = 0; start < records.length; start += batchSize) {
      const messages = records.slice(start, start + batchSize);
      const summary = await options.invoke(buildMskEvent([{ topic: options.topic, partition, messages }], source));
      invocations += 1;
      tally.read += messages.length;
      tally.inserted += summary?.inserted ?? 0;
      tally.duplicates += summary?.duplicates ?? 0;
      tally.deadLettered += summary?.deadLettered ?? 0;
      read += messages.length;
      options.onProgress?.(read, offsets);
    }
  });
  const list = [...partitions.values()];
  const sum = (field: "inserted" | "duplicates" | "deadLettered") => list.reduce((total, one) => total + one[field], 0);
  return {
    topic: options.topic,
    offsets,
    read,
    invocations,
    inserted: sum("inserted"),
    duplicates: sum("duplicates"),
    deadLettered: sum("deadLettered"),
    partitions: list,
    ms: Math.round(performance.now() - started),
  };
}
