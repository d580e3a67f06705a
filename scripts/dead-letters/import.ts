import type { Kafka, KafkaMessage } from "kafkajs";
import { config } from "../../lib/config.js";
import { safeText } from "../../lib/consumer/classify.js";
import { OnFailureReason, PoisonReason } from "../../lib/consumer/reasons.js";
import type { Database } from "../../lib/db/client.js";
import { type PartitionRange, readRanges } from "../replay/range.js";
import { insertDeadLetterRows, type NewDeadLetterRow } from "./store.js";

/**
 * The trigger's on-failure destination (plugins/offline-kafka, and Lambda's on AWS) writes the records it
 * gave up on (function-error, function-timeout) to the dead-letter topic only. They are imported into
 * dead_letters here, keyed by their source offset like the consumer's own rows, so one table lists and
 * redrives every dead letter. The consumer's own dead letters are on the topic too: their rows exist
 * already (written in the batch's database transaction, before the topic copy) and are skipped.
 * What was imported is remembered as this group's committed offsets on the topic; the group never joins.
 */
export const IMPORT_GROUP_ID = "txlog-dead-letter-import";

/** Key and detail columns are cut as the consumer cuts them (lib/consumer/dead-letters.ts). */
const MAX_TEXT_CHARS = 1_000;

export interface ImportSummary {
  topic: string;
  /** Messages read from the topic since the last import. */
  read: number;
  /** Rows added. */
  imported: number;
  /** On-failure records whose source offset already had a row (imported before, or the consumer's own). */
  kept: number;
  /** The consume function's own dead letters: their rows are written with their batch, never from the topic. */
  consumers: number;
  /** Skipped: messages without the source headers every dead letter carries, or with a reason no one writes. */
  unrecognised: number;
  /** Skipped: naming a source topic the pipeline does not consume (redrive would produce there). */
  foreignTopic: number;
  /** Skipped: a source partition, offset or timestamp that is not a non-negative integer, or a partition the topic lacks. */
  invalidSource: number;
}

/** What the import does with one message of the dead-letter topic. */
export type ImportVerdict = { row: NewDeadLetterRow } | { skip: "unrecognised" | "consumers" | "foreignTopic" | "invalidSource" };

function headerText(message: KafkaMessage, name: string): string | undefined {
  const value = message.headers?.[name];
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined ? undefined : Buffer.isBuffer(one) ? one.toString("utf8") : String(one);
}

/** A non-negative safe integer written in decimal digits only ("-1", "1e3", " 7" and "" are not). */
function count(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,16}$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** The dead_letters row of a dead-letter topic message, or undefined when it names no valid source. */
export function rowOfDeadLetterMessage(message: KafkaMessage): NewDeadLetterRow | undefined {
  const topic = headerText(message, "source-topic");
  const partition = count(headerText(message, "source-partition"));
  const offset = count(headerText(message, "source-offset"));
  const sourceTimestamp = count(headerText(message, "source-timestamp"));
  const reason = headerText(message, "dead-letter-reason");
  if (!topic || !reason || partition === undefined || offset === undefined || sourceTimestamp === undefined) return undefined;
  // A record too large to copy arrives as a reference: no value, the reason in this header.
  const omitted = headerText(message, "dead-letter-value");
  const detail = [headerText(message, "dead-letter-detail"), omitted && `value ${omitted}`].filter(Boolean).join("; ");
  const timestamp = Number(message.timestamp);
  return {
    topic: safeText(topic, MAX_TEXT_CHARS),
    partition,
    offset,
    key: message.key ? safeText(message.key.toString("utf8"), MAX_TEXT_CHARS) : null,
    value: message.value && !omitted ? message.value.toString("base64") : null,
    reason: safeText(reason, 100),
    detail: safeText(detail),
    ...(Number.isFinite(timestamp) && timestamp > 0 ? { createdAt: new Date(timestamp) } : {}),
  };
}

const onFailure = new Set<string>(OnFailureReason.options);
const consumers = new Set<string>(PoisonReason.options);

/**
 * Only the trigger's on-failure records are imported, and only for a partition of a topic the pipeline
 * consumes (`partitions`: topic -> partition count): a planted message can neither make redrive produce
 * elsewhere nor claim a consumer's row (the consumer replaces an imported row at its offset, see
 * lib/consumer/dead-letters.ts insertDeadLetters).
 */
export function judgeDeadLetterMessage(message: KafkaMessage, partitions: ReadonlyMap<string, number>): ImportVerdict {
  const reason = headerText(message, "dead-letter-reason");
  const topic = headerText(message, "source-topic");
  if (reason === undefined || topic === undefined || !(onFailure.has(reason) || consumers.has(reason))) {
    return { skip: "unrecognised" };
  }
  if (consumers.has(reason)) return { skip: "consumers" };
  const count = partitions.get(topic);
  if (count === undefined) return { skip: "foreignTopic" };
  const row = rowOfDeadLetterMessage(message);
  if (!row || row.partition >= count) return { skip: "invalidSource" };
  return { row };
}

export interface ImportOptions {
  kafka: Kafka;
  db: Database;
  /** The dead-letter topic (config.DEAD_LETTER_TOPIC). */
  topic: string;
  /** The topics the pipeline consumes (default: config.TRANSACTIONS_TOPIC); records of others are skipped. */
  sourceTopics?: string[];
  groupId?: string;
  /** Messages read so far of `total` (the messages the topic received since the last import). */
  onProgress?: (read: number, total: number) => void;
}

/** Imports what the topic received since the last import (all of it the first time). */
export async function importDeadLetterTopic(options: ImportOptions): Promise<ImportSummary> {
  const { kafka, db, topic } = options;
  const groupId = options.groupId ?? IMPORT_GROUP_ID;
  const summary: ImportSummary = {
    topic,
    read: 0,
    imported: 0,
    kept: 0,
    consumers: 0,
    unrecognised: 0,
    foreignTopic: 0,
    invalidSource: 0,
  };
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    if (!existing.has(topic)) return summary;
    const sourceTopics = (options.sourceTopics ?? [config.TRANSACTIONS_TOPIC]).filter((name) => existing.has(name));
    const partitions = new Map<string, number>(
      sourceTopics.length
        ? (await admin.fetchTopicMetadata({ topics: sourceTopics })).topics.map(({ name, partitions: list }) => [
            name,
            list.length,
          ])
        : [],
    );
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const done = new Map((committed?.partitions ?? []).map(({ partition, offset }) => [partition, Number(offset)]));
    const ranges: PartitionRange[] = ends.map(({ partition, low, high }) => ({
      partition,
      from: Math.max(done.get(partition) ?? -1, Number(low)),
      to: Number(high),
    }));
    const total = ranges.reduce((sum, { from, to }) => sum + Math.max(0, to - from), 0);
    options.onProgress?.(0, total);
    await readRanges(kafka, topic, ranges, async (_partition, messages) => {
      summary.read += messages.length;
      const rows: NewDeadLetterRow[] = [];
      for (const message of messages) {
        const verdict = judgeDeadLetterMessage(message, partitions);
        if ("row" in verdict) rows.push(verdict.row);
        else summary[verdict.skip] += 1;
      }
      const added = await insertDeadLetterRows(db, rows);
      summary.imported += added;
      summary.kept += rows.length - added;
      // Offsets of aborted or control records are never read: the count stays at most the total.
      options.onProgress?.(summary.read, total);
    });
    const moved = ranges.filter(({ from, to }) => to > from);
    if (moved.length) {
      await admin.setOffsets({
        groupId,
        topic,
        partitions: moved.map(({ partition, to }) => ({ partition, offset: String(to) })),
      });
    }
    return summary;
  } finally {
    await admin.disconnect();
  }
}
